//! The authors' RewardEdit-20K rewards (paper-notes.md, "RewardEdit-20K") over the
//! InstructPix2Pix CLIP-filtered folders they score.
//!
//! The JSON is one object keyed by sample folder (relative to the InstructPix2Pix root):
//! `{"<folder>": [{"Score": s, "Negative Prompt": t} x3], ...}` in the order following,
//! preservation, quality; scores are ints or floats in [0, 5]. Each folder holds
//! `prompt.json` (`"edit"`: the instruction; `"input"`, `"output"`: captions) and pairs
//! `<seed>_0.jpg` (source) / `<seed>_1.jpg` (edited).
//!
//! What the format lacks, and how it is filled in (each recorded in the example's provenance):
//! - **verdict**: yes when the score is above the middle of the range (`> 2.5`), so for the
//!   integer scores of the released file 3, 4, 5 are yes and 0, 1, 2 are no. The writer drops
//!   verdicts, so only verdicts that follow this rule survive a round trip.
//! - **edit type**: guessed from the instruction by [`classify_instruction`].
//! - **which pair**: the key names a folder, not a seed; when a folder holds several pairs the
//!   lowest seed is taken (and the count recorded), so the choice is deterministic.

use std::fs;
use std::path::Path;

use serde::ser::{Serialize, Serializer};
use serde_json::{Value, json};

use super::{read_json_entries, slash_relative};
use crate::classify::classify_instruction;
use crate::{Axis, AxisScore, EditExample, Error, MAX_SCORE, Result, Reward, validate_instruction};

/// The prompt file inside an InstructPix2Pix sample folder.
pub const PROMPT_FILE: &str = "prompt.json";
/// A derived verdict is yes when the score is above this (the middle of [0, 5]).
pub const VERDICT_THRESHOLD: f32 = MAX_SCORE / 2.0;

const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// The yes/no verdict the format does not carry: yes above [`VERDICT_THRESHOLD`].
pub fn derived_verdict(score: f32) -> bool {
    score > VERDICT_THRESHOLD
}

/// Reads the reward JSON and, per entry, its InstructPix2Pix folder under `ip2p_root`.
/// Fails only if the JSON cannot be read or is not an object; each bad entry (malformed
/// scores, missing folder or `prompt.json`, no `<seed>_0` image) is a separate `Err` item.
/// Images are not opened here; the edited image path is where the layout puts it.
pub fn read_rewardedit20k(
    json_path: &Path,
    ip2p_root: &Path,
) -> Result<impl Iterator<Item = Result<EditExample>> + use<>> {
    let json_path = json_path.to_path_buf();
    let root = ip2p_root.to_path_buf();
    let entries = read_json_entries(&json_path)?;
    Ok(entries.into_iter().map(move |(key, value)| {
        example(&root, &key, &value).map_err(|reason| Error::Entry {
            path: json_path.clone(),
            key,
            reason,
        })
    }))
}

fn example(root: &Path, key: &str, value: &Value) -> std::result::Result<EditExample, String> {
    let rewards = parse_rewards(value)?;
    let relative = Path::new(key);
    if key.trim().is_empty() || relative.is_absolute() {
        return Err("the key must be a sample folder relative to the InstructPix2Pix root".into());
    }
    let folder = root.join(relative);
    let prompt_path = folder.join(PROMPT_FILE);
    let prompt: Value = fs::read_to_string(&prompt_path)
        .map_err(|e| format!("{}: {e}; is the InstructPix2Pix root right?", prompt_path.display()))
        .and_then(|t| {
            serde_json::from_str(&t).map_err(|e| format!("{}: {e}", prompt_path.display()))
        })?;
    let caption = |field: &str| prompt.get(field).and_then(Value::as_str);
    let instruction = caption("edit")
        .ok_or_else(|| format!("{}: no \"edit\" string (the instruction)", prompt_path.display()))?
        .trim()
        .to_string();
    validate_instruction(&instruction).map_err(|e| format!("{}: {e}", prompt_path.display()))?;
    let (seed, ext, pairs) = lowest_seed(&folder)?;
    Ok(EditExample {
        id: key.to_string(),
        source: folder.join(format!("{seed}_0.{ext}")),
        edited: folder.join(format!("{seed}_1.{ext}")),
        edit_type: classify_instruction(&instruction),
        instruction,
        rewards: Some(rewards),
        target: None,
        mask: None,
        provenance: json!({
            "format": "rewardedit20k",
            "seed": seed,
            "pairs_in_folder": pairs,
            "input": caption("input"),
            "output": caption("output"),
            "edit_type_source": "classified",
            "verdict_source": format!("derived: yes when score > {VERDICT_THRESHOLD}"),
        }),
    })
}

/// The three `{"Score", "Negative Prompt"}` objects, in axis order.
fn parse_rewards(value: &Value) -> std::result::Result<Reward, String> {
    let expected = "expected a list of three {\"Score\": number, \"Negative Prompt\": string} \
                    (following, preservation, quality)";
    let items = value
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or_else(|| format!("{expected}, found {value}"))?;
    let axis = |a: Axis| -> std::result::Result<AxisScore, String> {
        let item = &items[a.index()];
        let score = item.get("Score").and_then(Value::as_f64);
        let flaw = item.get("Negative Prompt").and_then(Value::as_str);
        let (Some(score), Some(flaw)) = (score, flaw) else {
            return Err(format!("{a}: {expected}, found {item}"));
        };
        let score = score as f32;
        AxisScore::new(score, derived_verdict(score), flaw).map_err(|e| format!("{a}: {e}"))
    };
    Ok(Reward::new(axis(Axis::Following)?, axis(Axis::Preservation)?, axis(Axis::Quality)?))
}

/// The lowest seed with a `<seed>_0.<ext>` source, its extension, and how many sources there are.
fn lowest_seed(folder: &Path) -> std::result::Result<(u64, &'static str, usize), String> {
    let listing = fs::read_dir(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let mut seeds = Vec::new();
    for entry in listing {
        let name = entry.map_err(|e| format!("{}: {e}", folder.display()))?.file_name();
        let Some((stem, ext)) = name.to_str().and_then(|n| n.rsplit_once('.')) else { continue };
        let ext = IMAGE_EXTENSIONS.into_iter().find(|e| e.eq_ignore_ascii_case(ext));
        let seed = stem.strip_suffix("_0").and_then(|s| s.parse::<u64>().ok());
        if let (Some(seed), Some(ext)) = (seed, ext) {
            seeds.push((seed, ext));
        }
    }
    let pairs = seeds.len();
    let (seed, ext) = seeds.into_iter().min().ok_or_else(|| {
        format!("{}: no source image <seed>_0.jpg in this folder", folder.display())
    })?;
    Ok((seed, ext, pairs))
}

/// Writes examples as the authors' RewardEdit JSON, keyed by each source's folder relative
/// to `ip2p_root` (so sources must be `<ip2p_root>/<folder>/<seed>_0.jpg`). Every example needs
/// rewards; only scores and flaw sentences are written (the format has no verdict). Integral
/// scores are written as integers, as in the released file. Returns the number of entries.
pub fn write_rewardedit20k<'a>(
    json_path: impl AsRef<Path>,
    ip2p_root: impl AsRef<Path>,
    examples: impl IntoIterator<Item = &'a EditExample>,
) -> Result<usize> {
    let (json_path, root) = (json_path.as_ref(), ip2p_root.as_ref());
    let bad =
        |id: &str, reason: String| Error::Entry { path: json_path.into(), key: id.into(), reason };
    let mut entries: Vec<(String, [Value; 3])> = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for example in examples {
        let rewards = example.rewards.as_ref().ok_or_else(|| {
            bad(
                &example.id,
                "the example has no rewards: score it before writing RewardEdit JSON".into(),
            )
        })?;
        let key =
            example.source.parent().and_then(|folder| slash_relative(root, folder)).ok_or_else(
                || {
                    bad(
                        &example.id,
                        format!(
                            "source {} is not in a sample folder under the InstructPix2Pix root {}",
                            example.source.display(),
                            root.display()
                        ),
                    )
                },
            )?;
        if !keys.insert(key.clone()) {
            return Err(bad(
                &example.id,
                format!("a second example from folder {key:?}; the format holds one per folder"),
            ));
        }
        let axis = |a: Axis| {
            let r = rewards.axis(a);
            json!({"Score": score_json(r.score()), "Negative Prompt": r.flaw()})
        };
        entries.push((key, Axis::ALL.map(axis)));
    }
    let file = fs::File::create(json_path).map_err(|e| Error::io(json_path, e))?;
    let mut out = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut out, &Ordered(&entries)).map_err(|e| Error::Record {
        path: json_path.into(),
        line: 0,
        reason: e.to_string(),
    })?;
    std::io::Write::flush(&mut out).map_err(|e| Error::io(json_path, e))?;
    Ok(entries.len())
}

/// An integer when integral; otherwise the shortest decimal of the f32 (4.2, not 4.19999980926).
fn score_json(score: f32) -> Value {
    if score.fract() == 0.0 {
        json!(score as i64)
    } else {
        score.to_string().parse::<f64>().map_or(Value::Null, |v| json!(v))
    }
}

/// Serializes entries as a JSON object in their given order.
struct Ordered<'a>(&'a [(String, [Value; 3])]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_may_be_ints_or_floats_and_are_validated() {
        let ok = json!([
            {"Score": 5, "Negative Prompt": "No negative aspects"},
            {"Score": 2.5, "Negative Prompt": "the sky changed"},
            {"Score": 3.0, "Negative Prompt": "slightly blurry"}
        ]);
        let r = parse_rewards(&ok).unwrap();
        assert_eq!(r.scores(), [5.0, 2.5, 3.0]);
        assert_eq!(r.verdicts(), [true, false, true]);
        assert_eq!(r.preservation.flaw(), "the sky changed");

        let mut out_of_range = ok.clone();
        out_of_range[1]["Score"] = json!(6);
        assert!(parse_rewards(&out_of_range).unwrap_err().contains("preservation"));
        let mut string_score = ok.clone();
        string_score[0]["Score"] = json!("5");
        assert!(parse_rewards(&string_score).is_err());
        assert!(parse_rewards(&json!([ok[0], ok[1]])).is_err());
    }

    #[test]
    fn integral_scores_are_written_as_integers() {
        assert_eq!(score_json(4.0), json!(4));
        assert_eq!(score_json(4.2).to_string(), "4.2");
    }
}
