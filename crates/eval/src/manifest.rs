//! A run as a labelled manifest (`RUN/manifest.jsonl`): every scored item as one manifest line
//! (source, instruction, edited, the run scorer's rewards), so a run's edits can be checked
//! (`data check`), relabelled (`label`) or used as teacher data for the student scorer, which
//! must judge real editor outputs and not only the world's injected flaws.

use std::path::Path;

use rewardedit_core::manifest::{ManifestWriter, MANIFEST_FILE};
use rewardedit_core::EditExample;
use serde_json::{json, Value};

use crate::record::ItemRecord;
use crate::run::RunRecord;
use crate::{EvalError, Result};

/// Writes `RUN/manifest.jsonl` from the run's latest records (failed items left out), replacing
/// any earlier one whole (written aside, then renamed). Returns the number of lines.
pub fn write_run_manifest(run: &Path, record: &RunRecord, records: &[ItemRecord]) -> Result<usize> {
    let path = run.join(MANIFEST_FILE);
    let partial = run.join(format!("{MANIFEST_FILE}.partial"));
    let mut writer = ManifestWriter::create(&partial)?;
    let mut lines = 0;
    for r in records {
        let (Some(edited), Some(rewards), true) = (&r.edited, &r.rewards, r.is_ok()) else { continue };
        writer.write(&EditExample {
            id: r.id.clone(),
            source: r.source.clone(),
            edited: edited.clone(),
            instruction: r.instruction.clone(),
            edit_type: r.edit_type,
            rewards: Some(rewards.clone()),
            target: None,
            mask: None,
            provenance: provenance(record, &r.provenance),
        })?;
        lines += 1;
    }
    drop(writer);
    std::fs::rename(&partial, &path).map_err(|e| EvalError::io(&path, e))?;
    Ok(lines)
}

/// The item's own provenance (world scene and edit) with the run that made and scored it.
fn provenance(record: &RunRecord, item: &Value) -> Value {
    let mut out = match item {
        Value::Object(map) => map.clone(),
        Value::Null => Default::default(),
        other => [("item".to_string(), other.clone())].into_iter().collect(),
    };
    out.insert("eval_run".into(), json!({ "editor": record.editor, "scorer": record.scorer, "benchmark": record.benchmark_identity }));
    Value::Object(out)
}
