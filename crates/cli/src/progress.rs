//! One progress-bar style for every long job: position, rate, ETA and a message.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items labelled `what`; drawn on stderr only when it is a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
    )
    .expect("the template is a constant")
    .progress_chars("=> ");
    ProgressBar::new(len).with_style(style).with_prefix(what.to_string())
}
