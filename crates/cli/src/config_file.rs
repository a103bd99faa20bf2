//! Optional TOML config files given on the command line (`--config`, `--lvlm-config`).

use std::path::Path;

use anyhow::Result;
use serde::de::DeserializeOwned;

use crate::exit::bad_input;

/// The config in `path` (`what` names it in errors), or `T::default()` without a file. An
/// unreadable or invalid file is bad input, named with its path.
pub fn load_or_default<T: DeserializeOwned + Default>(path: Option<&Path>, what: &str) -> Result<T> {
    let Some(path) = path else { return Ok(T::default()) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("reading the {what} {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| bad_input(format!("{}: not a valid {what}: {e}", path.display())))
}
