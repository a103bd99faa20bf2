//! The seven Real-Edit instruction types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// One of the seven edit types of Real-Edit (paper-notes.md, "Real-Edit").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EditType {
    Local,
    Remove,
    Add,
    Texture,
    Background,
    Global,
    Style,
}

impl EditType {
    /// All types in Real-Edit's order (the `N.` prefix of its instructions).
    pub const ALL: [EditType; 7] = [
        EditType::Local,
        EditType::Remove,
        EditType::Add,
        EditType::Texture,
        EditType::Background,
        EditType::Global,
        EditType::Style,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EditType::Local => "Local",
            EditType::Remove => "Remove",
            EditType::Add => "Add",
            EditType::Texture => "Texture",
            EditType::Background => "Background",
            EditType::Global => "Global",
            EditType::Style => "Style",
        }
    }

    /// Whether an edit of this type is meant to change the whole image, so that
    /// "preservation" is judged on content rather than on untouched pixels.
    pub fn is_whole_image(self) -> bool {
        matches!(self, EditType::Global | EditType::Style)
    }
}

impl fmt::Display for EditType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EditType {
    type Err = Error;

    /// Case-insensitive, surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        EditType::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::UnknownEditType(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case_and_rejects_unknown() {
        assert_eq!("background".parse::<EditType>().unwrap(), EditType::Background);
        assert_eq!(" Style ".parse::<EditType>().unwrap(), EditType::Style);
        assert!("Recolor".parse::<EditType>().is_err());
    }

    #[test]
    fn json_names_are_the_real_edit_names() {
        for t in EditType::ALL {
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.name()));
        }
    }
}
