//! Exit codes: 2 for bad input (what the user gave us is wrong), 1 for everything else.

use std::fmt;

/// Marks an error as caused by the user's input, so the binary exits with code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A bad-input error with a message that says what was wrong and what to do.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    BadInput(msg.into()).into()
}

/// Wraps any error as bad input, keeping its message.
pub trait InputContext<T> {
    fn bad_input(self) -> anyhow::Result<T>;
}

impl<T, E: fmt::Display> InputContext<T> for Result<T, E> {
    fn bad_input(self) -> anyhow::Result<T> {
        self.map_err(|e| bad_input(e.to_string()))
    }
}

/// The process exit code for an error.
pub fn code_for(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<BadInput>()) { 2 } else { 1 }
}
