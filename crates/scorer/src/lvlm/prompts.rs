//! The judge's prompts: versioned text files compiled in (architecture.md rule 7: the version
//! is part of every cache key, so a changed rubric never reuses old answers).
//!
//! A template is plain text with three placeholders: `{source_image}` and `{edited_image}` mark
//! where each image goes in the message, `{instruction}` is replaced by the edit instruction.
//! Other braces (the JSON answer format) are literal.

use rewardedit_core::Axis;

/// One versioned prompt template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// File stem without version, e.g. `paper_following`.
    pub name: &'static str,
    /// Bumped whenever the text changes meaning.
    pub version: u32,
    pub text: &'static str,
}

/// Which of the edit's images a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSlot {
    Source,
    Edited,
}

/// A piece of the rendered user message, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Image(ImageSlot),
}

/// Paper protocol, following rubric: source + edited + instruction (paper-notes.md, "Real-Edit").
pub const PAPER_FOLLOWING: Prompt =
    Prompt { name: "paper_following", version: 1, text: include_str!("../../prompts/paper_following.v1.txt") };
/// Paper protocol, preservation rubric: source + edited + instruction.
pub const PAPER_PRESERVATION: Prompt =
    Prompt { name: "paper_preservation", version: 1, text: include_str!("../../prompts/paper_preservation.v1.txt") };
/// Paper protocol, quality rubric: the edited image alone.
pub const PAPER_QUALITY: Prompt =
    Prompt { name: "paper_quality", version: 1, text: include_str!("../../prompts/paper_quality.v1.txt") };
/// All three axes in one request.
pub const JOINT: Prompt = Prompt { name: "joint", version: 1, text: include_str!("../../prompts/joint.v1.txt") };

const SOURCE: &str = "{source_image}";
const EDITED: &str = "{edited_image}";
const INSTRUCTION: &str = "{instruction}";

impl Prompt {
    /// The paper preset's rubric for one axis.
    pub fn paper(axis: Axis) -> Prompt {
        match axis {
            Axis::Following => PAPER_FOLLOWING,
            Axis::Preservation => PAPER_PRESERVATION,
            Axis::Quality => PAPER_QUALITY,
        }
    }

    /// `name.vN`, as in the file name; identifies the prompt in cache keys.
    pub fn id(&self) -> String {
        format!("{}.v{}", self.name, self.version)
    }

    /// The message for `instruction`: text and images in template order. Images are placed
    /// before the instruction is substituted, so an instruction that happens to contain a
    /// placeholder cannot add an image.
    pub fn render(&self, instruction: &str) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut rest = self.text;
        while let Some((at, slot, len)) = next_image(rest) {
            push_text(&mut out, &rest[..at], instruction);
            out.push(Segment::Image(slot));
            rest = &rest[at + len..];
        }
        push_text(&mut out, rest, instruction);
        out
    }
}

fn next_image(s: &str) -> Option<(usize, ImageSlot, usize)> {
    let src = s.find(SOURCE).map(|i| (i, ImageSlot::Source, SOURCE.len()));
    let edt = s.find(EDITED).map(|i| (i, ImageSlot::Edited, EDITED.len()));
    match (src, edt) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn push_text(out: &mut Vec<Segment>, text: &str, instruction: &str) {
    let text = text.trim();
    if !text.is_empty() {
        out.push(Segment::Text(text.replace(INSTRUCTION, instruction)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(p: Prompt) -> Vec<ImageSlot> {
        p.render("x")
            .into_iter()
            .filter_map(|s| match s {
                Segment::Image(i) => Some(i),
                Segment::Text(_) => None,
            })
            .collect()
    }

    #[test]
    fn rubrics_see_the_paper_images() {
        use ImageSlot::*;
        assert_eq!(images(PAPER_FOLLOWING), [Source, Edited]);
        assert_eq!(images(PAPER_PRESERVATION), [Source, Edited]);
        assert_eq!(images(PAPER_QUALITY), [Edited]);
        assert_eq!(images(JOINT), [Source, Edited]);
    }

    #[test]
    fn instruction_is_substituted_but_cannot_add_images() {
        let segs = PAPER_FOLLOWING.render("paint {edited_image} red");
        let text: String = segs.iter().filter_map(|s| if let Segment::Text(t) = s { Some(t.as_str()) } else { None }).collect();
        assert!(text.contains("\"paint {edited_image} red\""));
        assert!(!text.contains(INSTRUCTION));
        assert_eq!(segs.iter().filter(|s| matches!(s, Segment::Image(_))).count(), 2);
        // The quality rubric judges the image alone: the instruction is not shown.
        assert!(!PAPER_QUALITY.text.contains(INSTRUCTION));
    }
}
