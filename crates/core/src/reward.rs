//! The three-axis reward of the method (paper-notes.md, "RewardEdit-20K"): per axis a score in
//! [0, 5], a yes/no verdict and a sentence naming the flaw.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The top of the score range; scores live in `[0, MAX_SCORE]`.
pub const MAX_SCORE: f32 = 5.0;

/// The three reward axes, in the authors' order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    /// The instruction was done, to the right thing.
    Following,
    /// Nothing the instruction did not mention changed.
    Preservation,
    /// The result is clean: no blur, noise or artefacts.
    Quality,
}

impl Axis {
    pub const ALL: [Axis; 3] = [Axis::Following, Axis::Preservation, Axis::Quality];

    pub fn name(self) -> &'static str {
        match self {
            Axis::Following => "following",
            Axis::Preservation => "preservation",
            Axis::Quality => "quality",
        }
    }

    /// The "no flaw" sentence for this axis, as in the paper's figure of the reward text.
    pub fn no_flaw_text(self) -> &'static str {
        match self {
            Axis::Following => "No negative aspects",
            Axis::Preservation => "No unintended changes",
            Axis::Quality => "No noticeable issues",
        }
    }

    /// Position of the axis in score arrays (`[following, preservation, quality]`).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One axis of a [`Reward`]. Always valid: the score is finite and in `[0, 5]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AxisScoreJson", into = "AxisScoreJson")]
pub struct AxisScore {
    score: f32,
    verdict: bool,
    flaw: String,
}

/// The JSON form, `{"score": number, "verdict": bool, "flaw": string}`, before validation.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisScoreJson {
    score: f32,
    verdict: bool,
    flaw: String,
}

impl TryFrom<AxisScoreJson> for AxisScore {
    type Error = Error;
    fn try_from(j: AxisScoreJson) -> Result<Self> {
        AxisScore::new(j.score, j.verdict, j.flaw)
    }
}

impl From<AxisScore> for AxisScoreJson {
    fn from(a: AxisScore) -> Self {
        AxisScoreJson { score: a.score, verdict: a.verdict, flaw: a.flaw }
    }
}

impl AxisScore {
    /// A validated axis score; NaN, infinities and scores outside `[0, 5]` are errors.
    pub fn new(score: f32, verdict: bool, flaw: impl Into<String>) -> Result<Self> {
        check_score(score)?;
        Ok(AxisScore { score, verdict, flaw: flaw.into() })
    }

    /// A perfect score on `axis`: 5, "yes", and the axis' no-flaw sentence.
    pub fn clean(axis: Axis) -> Self {
        AxisScore { score: MAX_SCORE, verdict: true, flaw: axis.no_flaw_text().to_string() }
    }

    pub fn score(&self) -> f32 {
        self.score
    }

    /// The yes/no verdict (true = yes: the axis is satisfied).
    pub fn verdict(&self) -> bool {
        self.verdict
    }

    pub fn flaw(&self) -> &str {
        &self.flaw
    }
}

/// Checks that `score` is a usable reward score.
pub fn check_score(score: f32) -> Result<()> {
    if !score.is_finite() {
        return Err(Error::InvalidReward(format!("score {score} is not a finite number")));
    }
    if !(0.0..=MAX_SCORE).contains(&score) {
        return Err(Error::InvalidReward(format!("score {score} is outside [0, {MAX_SCORE}]")));
    }
    Ok(())
}

/// A measurement of one edit on the three axes. Its JSON form is the one used everywhere
/// (manifests, `--json` outputs, reports):
/// `{"following": {"score", "verdict", "flaw"}, "preservation": {...}, "quality": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reward {
    pub following: AxisScore,
    pub preservation: AxisScore,
    pub quality: AxisScore,
}

impl Reward {
    pub fn new(following: AxisScore, preservation: AxisScore, quality: AxisScore) -> Self {
        Reward { following, preservation, quality }
    }

    /// 5/5/5 with the no-flaw sentences: what a clean edit earns.
    pub fn perfect() -> Self {
        Reward::new(
            AxisScore::clean(Axis::Following),
            AxisScore::clean(Axis::Preservation),
            AxisScore::clean(Axis::Quality),
        )
    }

    pub fn axis(&self, axis: Axis) -> &AxisScore {
        match axis {
            Axis::Following => &self.following,
            Axis::Preservation => &self.preservation,
            Axis::Quality => &self.quality,
        }
    }

    /// Scores as `[following, preservation, quality]`.
    pub fn scores(&self) -> [f32; 3] {
        Axis::ALL.map(|a| self.axis(a).score)
    }

    pub fn verdicts(&self) -> [bool; 3] {
        Axis::ALL.map(|a| self.axis(a).verdict)
    }

    /// The authors' reward text: the three flaw sentences joined with `"; "`.
    pub fn joined_text(&self) -> String {
        join_flaws(Axis::ALL.map(|a| self.axis(a).flaw.as_str()))
    }
}

/// Joins three flaw sentences the way the authors do for training (`"a; b; c"`).
pub fn join_flaws(flaws: [&str; 3]) -> String {
    flaws.join("; ")
}

/// What the editor is conditioned on: requested rewards, or the learned "no reward" state
/// (architecture.md rule 8: the null reward lives in the embedder).
#[derive(Debug, Clone, PartialEq)]
pub enum RewardCondition {
    /// No reward given: the embedder substitutes its learned null embedding.
    Null,
    /// Scores `[following, preservation, quality]` in `[0, 5]` and the reward (flaw) text.
    Given { scores: [f32; 3], text: String },
}

impl RewardCondition {
    /// The paper's inference condition: rewards 5, 5, 5 and reward text "None; None; None".
    pub fn paper_default() -> Self {
        RewardCondition::Given { scores: [MAX_SCORE; 3], text: join_flaws(["None"; 3]) }
    }

    /// The reward (flaw) text the editor encodes: the given one, or "" for the null reward
    /// (whose text embedding the null reward replaces anyway).
    pub fn text(&self) -> &str {
        match self {
            RewardCondition::Given { text, .. } => text,
            RewardCondition::Null => "",
        }
    }

    /// Requested scores with the given text; every score is validated.
    pub fn given(scores: [f32; 3], text: impl Into<String>) -> Result<Self> {
        for s in scores {
            check_score(s)?;
        }
        Ok(RewardCondition::Given { scores, text: text.into() })
    }
}

/// Parses `"F,P,Q"` (three scores in `[0, 5]`, commas, optional spaces), as `--rewards` takes them.
pub fn parse_scores(text: &str) -> Result<[f32; 3]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != 3 {
        return Err(Error::InvalidReward(format!(
            "{text:?} must be three scores following,preservation,quality (e.g. 5,5,5)"
        )));
    }
    let mut scores = [0.0; 3];
    for (slot, part) in scores.iter_mut().zip(&parts) {
        *slot = part
            .parse::<f32>()
            .map_err(|_| Error::InvalidReward(format!("{part:?} in {text:?} is not a number")))?;
        check_score(*slot)?;
    }
    Ok(scores)
}

impl From<&Reward> for RewardCondition {
    fn from(r: &Reward) -> Self {
        RewardCondition::Given { scores: r.scores(), text: r.joined_text() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_and_nan() {
        assert!(AxisScore::new(5.01, true, "").is_err());
        assert!(AxisScore::new(-0.1, true, "").is_err());
        assert!(AxisScore::new(f32::NAN, true, "").is_err());
        assert!(AxisScore::new(f32::INFINITY, true, "").is_err());
        assert!(AxisScore::new(0.0, false, "x").is_ok());
        assert!(AxisScore::new(5.0, true, "x").is_ok());
    }

    #[test]
    fn json_form_round_trips_and_is_validated() {
        let r = Reward::new(
            AxisScore::new(1.5, false, "the circle is still red").unwrap(),
            AxisScore::clean(Axis::Preservation),
            AxisScore::new(4.0, true, "slightly blurry").unwrap(),
        );
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains(r#""following":{"score":1.5,"verdict":false,"flaw":"the circle is still red"}"#));
        assert_eq!(serde_json::from_str::<Reward>(&j).unwrap(), r);

        let bad = j.replace("1.5", "7");
        assert!(serde_json::from_str::<Reward>(&bad).unwrap_err().to_string().contains("outside"));
        let missing = r#"{"following":{"score":1,"verdict":true}}"#;
        assert!(serde_json::from_str::<Reward>(missing).is_err());
    }

    #[test]
    fn joined_text_is_in_axis_order() {
        let r = Reward::perfect();
        assert_eq!(r.joined_text(), "No negative aspects; No unintended changes; No noticeable issues");
        assert_eq!(r.scores(), [5.0; 3]);
    }

    #[test]
    fn paper_default_condition() {
        assert_eq!(
            RewardCondition::paper_default(),
            RewardCondition::Given { scores: [5.0; 3], text: "None; None; None".into() }
        );
        assert!(RewardCondition::given([5.0, 6.0, 5.0], "").is_err());
    }

    #[test]
    fn parses_score_triples() {
        assert_eq!(parse_scores("5,4.5, 0").unwrap(), [5.0, 4.5, 0.0]);
        for bad in ["5,5", "5,5,5,5", "a,5,5", "5,5,9", "5,-1,5", "nan,5,5", ""] {
            assert!(parse_scores(bad).is_err(), "{bad}");
        }
    }
}
