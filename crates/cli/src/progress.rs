//! One progress-bar style for every long job: position, rate, ETA and a message.

use indicatif::{ProgressBar, ProgressStyle};
use rewardedit_eval::{ItemRecord, RunProgress};

/// A bar over `len` items labelled `what`; drawn on stderr only when it is a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
    )
    .expect("the template is a constant")
    .progress_chars("=> ");
    ProgressBar::new(len).with_style(style).with_prefix(what.to_string())
}

/// The bar of an evaluation run: items to do, failures so far; says when a run resumes.
pub struct RunBar {
    what: String,
    bar: Option<ProgressBar>,
    failed: usize,
}

impl RunBar {
    pub fn new(what: &str) -> Self {
        RunBar { what: what.into(), bar: None, failed: 0 }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl RunProgress for RunBar {
    fn start(&mut self, total: usize, already: usize, to_do: usize) {
        if already > 0 {
            eprintln!("{}: resuming, {already} of {total} items already scored, {to_do} to do", self.what);
        }
        self.bar = Some(bar(to_do as u64, &self.what));
    }

    fn item(&mut self, record: &ItemRecord) {
        self.failed += usize::from(!record.is_ok());
        if let Some(bar) = &self.bar {
            bar.set_message(format!("failed {}", self.failed));
            bar.inc(1);
        }
    }
}
