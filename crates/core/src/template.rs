//! Named reward templates: the conditions a user asks the editor for by name instead of typing
//! scores and a reward text (`rewardedit edit --template NAME`). Scores are
//! `[following, preservation, quality]`; the text is the reward (flaw) text, three sentences
//! joined with `"; "` as in training (paper-notes.md, "RewardEdit-20K").

use std::fmt;
use std::str::FromStr;

use crate::reward::{join_flaws, RewardCondition, MAX_SCORE};

/// A named [`RewardCondition`] with a one-line description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// The paper's inference condition: 5, 5, 5 and "None; None; None".
    Default,
    /// Preserve every detail the instruction does not mention.
    Catalogue,
    /// Follow the instruction boldly, even at some cost to preservation.
    Creative,
    /// Image quality first.
    Clean,
}

impl Template {
    pub const ALL: [Template; 4] = [Template::Default, Template::Catalogue, Template::Creative, Template::Clean];

    pub fn name(self) -> &'static str {
        match self {
            Template::Default => "default",
            Template::Catalogue => "catalogue",
            Template::Creative => "creative",
            Template::Clean => "clean",
        }
    }

    /// One line for `--help` and listings.
    pub fn description(self) -> &'static str {
        match self {
            Template::Default => "the paper's condition: rewards 5,5,5, reward text \"None; None; None\"",
            Template::Catalogue => "preserve every detail the instruction does not mention (product shots, catalogues)",
            Template::Creative => "follow the instruction boldly; unmentioned details may change",
            Template::Clean => "image quality first: no blur, artefacts or distortions",
        }
    }

    /// The condition the editor is given.
    pub fn condition(self) -> RewardCondition {
        let given = |scores: [f32; 3], flaws: [&str; 3]| RewardCondition::Given { scores, text: join_flaws(flaws) };
        match self {
            Template::Default => RewardCondition::paper_default(),
            Template::Catalogue => given(
                [4.0, MAX_SCORE, MAX_SCORE],
                ["None", "No unintended changes, every other detail kept exactly", "None"],
            ),
            Template::Creative => given(
                [MAX_SCORE, 3.5, 4.5],
                ["No negative aspects, the instruction fully carried out", "None", "None"],
            ),
            Template::Clean => given(
                [4.5, 4.5, MAX_SCORE],
                ["None", "None", "No noticeable issues, sharp and free of artefacts"],
            ),
        }
    }

    /// `name  description` lines, one per template.
    pub fn listing() -> String {
        Template::ALL.iter().map(|t| format!("{:<10} {}", t.name(), t.description())).collect::<Vec<_>>().join("\n")
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown template name; the message lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reward template {name:?}: expected one of {}", Template::ALL.map(Template::name).join(", "))]
pub struct UnknownTemplate {
    pub name: String,
}

impl FromStr for Template {
    type Err = UnknownTemplate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Template::ALL
            .into_iter()
            .find(|t| t.name() == wanted)
            .ok_or_else(|| UnknownTemplate { name: s.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reward::check_score;

    #[test]
    fn names_round_trip_and_conditions_are_valid() {
        for t in Template::ALL {
            assert_eq!(t.name().parse::<Template>().unwrap(), t);
            assert!(!t.description().is_empty() && !t.description().contains('\n'));
            let RewardCondition::Given { scores, text } = t.condition() else { panic!("{t} is null") };
            scores.iter().for_each(|&s| check_score(s).unwrap());
            assert_eq!(text.split("; ").count(), 3, "{t}: {text}");
        }
        assert_eq!(Template::Default.condition(), RewardCondition::paper_default());
        assert_eq!("Clean".parse::<Template>().unwrap(), Template::Clean);
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = "bold".parse::<Template>().unwrap_err().to_string();
        assert_eq!(err, "unknown reward template \"bold\": expected one of default, catalogue, creative, clean");
    }
}
