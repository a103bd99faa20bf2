//! Word-level vocabulary of the world's small text encoders (the student scorer's instruction
//! encoder, the world editor's prompt encoder). It is built from the training texts (the world's
//! words), so held-out phrasings meet unknown words exactly as a deployed model would; those map
//! to the unknown token.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Id of the padding token (never attended to).
pub const PAD: usize = 0;
/// Id of the unknown-word token.
pub const UNK: usize = 1;

/// A sorted word list; token id = 2 + position (0 and 1 are [`PAD`] and [`UNK`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    /// Known words, lower case, sorted (binary-searched).
    pub words: Vec<String>,
}

/// Lower-cased words of `text`: runs of letters, digits and apostrophes; everything else
/// (spaces, punctuation) separates words.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

impl Vocab {
    /// The vocabulary of every word in `texts`.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vocab {
        let set: BTreeSet<String> = texts.into_iter().flat_map(words).collect();
        Vocab { words: set.into_iter().collect() }
    }

    /// Embedding rows needed: the words plus [`PAD`] and [`UNK`].
    pub fn size(&self) -> usize {
        self.words.len() + 2
    }

    /// Token ids of `text`, cut or padded with [`PAD`] to exactly `len`; unknown words are [`UNK`].
    pub fn encode(&self, text: &str, len: usize) -> Vec<usize> {
        let mut ids: Vec<usize> = words(text)
            .take(len)
            .map(|w| self.words.binary_search(&w).map_or(UNK, |i| i + 2))
            .collect();
        ids.resize(len, PAD);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_unknown_and_pads() {
        let v = Vocab::build(["Make the red circle blue", "remove the star."]);
        assert_eq!(v.words, ["blue", "circle", "make", "red", "remove", "star", "the"]);
        assert_eq!(v.encode("Make the RED circle green!", 7), [4, 8, 5, 3, UNK, PAD, PAD]);
        assert_eq!(v.encode("the the the", 2), [8, 8]);
        assert_eq!(v.size(), 9);
    }
}
