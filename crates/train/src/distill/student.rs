//! The student: its UNet config (the teacher's with the recipe's changes) and its
//! initialisation from the teacher wherever a tensor keeps its shape.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::store::ModuleSnapshot;
use rewardedit_models::schedulers::TimestepSpacing;
use rewardedit_models::unet::reward::REWARD_HEADS;
use rewardedit_models::unet::UNet2DConditionConfig;

use crate::editor::{Editor, EditorConfig, Encoders};
use crate::{Result, TrainError};

/// The student's config: the teacher's, with `changes` (diffusers unet config fields) applied
/// to the UNet and trailing timestep spacing (so a student step spans exactly two teacher
/// steps and the first starts from pure noise). The prompt encoder, vocabulary and reward
/// modules stay the teacher's.
pub fn student_config(teacher: &EditorConfig, changes: &toml::Table) -> Result<EditorConfig> {
    let mut unet = serde_json::to_value(&teacher.unet).map_err(|e| TrainError::Config(e.to_string()))?;
    let fields = unet.as_object_mut().ok_or_else(|| TrainError::Config("the teacher's unet config is not an object".into()))?;
    for (key, value) in changes {
        if !fields.contains_key(key) {
            return Err(TrainError::Config(format!("student.{key} is not a unet config field")));
        }
        fields.insert(key.clone(), serde_json::to_value(value).map_err(|e| TrainError::Config(e.to_string()))?);
    }
    let unet: UNet2DConditionConfig = serde_json::from_value(unet).map_err(|e| TrainError::Config(format!("student: {e}")))?;
    unet.validate()?;
    let t = &teacher.unet;
    if (unet.in_channels, unet.out_channels, unet.cross_attention_dim) != (t.in_channels, t.out_channels, t.cross_attention_dim) {
        return Err(TrainError::Config(
            "student: in_channels, out_channels and cross_attention_dim must stay the teacher's (the student reads the same inputs and prompt encoder)".into(),
        ));
    }
    let width = unet.block_out_channels[0];
    if teacher.reward.is_some() && !width.is_multiple_of(REWARD_HEADS) {
        return Err(TrainError::Config(format!(
            "student: block_out_channels[0] = {width} must be a multiple of {REWARD_HEADS} (the reward cross-attention's heads)"
        )));
    }
    Ok(EditorConfig { unet, ..with_trailing_spacing(teacher) })
}

/// Whether an earlier student reads the inputs `student` reads: the same reward modules and, for
/// a world editor, the same prompt encoder and words.
fn reads_same_inputs(earlier: &EditorConfig, student: &EditorConfig) -> bool {
    let same_encoders = match (&earlier.encoders, &student.encoders) {
        (Encoders::World { .. }, Encoders::World { .. }) => earlier.encoders == student.encoders,
        (Encoders::Frozen { .. }, Encoders::Frozen { .. }) => true,
        _ => false,
    };
    earlier.reward.is_some() == student.reward.is_some() && same_encoders
}

/// Refuses to continue from the earlier student `earlier` (read from `dir`) unless it is the
/// recipe's student: the same UNet, reading the same inputs.
pub fn check_continues(earlier: &EditorConfig, student: &EditorConfig, dir: &Path) -> Result<()> {
    if earlier.unet != student.unet || !reads_same_inputs(earlier, student) {
        return Err(TrainError::Config(format!(
            "student_init {}: not the recipe's student (its UNet, reward modules or prompt encoder differ from the teacher's with [student] applied)",
            dir.display()
        )));
    }
    Ok(())
}

/// Refuses to warm-start from the earlier student `earlier` (read from `dir`) unless it reads
/// the same inputs; its UNet may differ (that is the point).
pub fn check_warm_start(earlier: &EditorConfig, student: &EditorConfig, dir: &Path) -> Result<()> {
    if !reads_same_inputs(earlier, student) {
        return Err(TrainError::Config(format!(
            "student_warm_start {}: its prompt encoder or reward modules differ from the teacher's; warm-start from a student of this teacher",
            dir.display()
        )));
    }
    Ok(())
}

/// `config` sampling with trailing timestep spacing.
pub fn with_trailing_spacing(config: &EditorConfig) -> EditorConfig {
    let mut c = config.clone();
    c.noise.timestep_spacing = Some(TimestepSpacing::Trailing);
    c
}

/// Copies into `student` every tensor of `from` (the teacher, or an earlier student) with the
/// same path and shape; returns how many were copied.
pub fn copy_matching(student: &mut Editor, from: &Editor) -> usize {
    let shapes: BTreeMap<String, Vec<usize>> =
        student.collect(None, None, false).into_iter().map(|t| (t.name.clone(), t.shape.to_vec())).collect();
    let matching: Vec<_> = from
        .collect(None, None, false)
        .into_iter()
        .filter(|t| shapes.get(&t.name) == Some(&t.shape.to_vec()))
        .map(|mut t| {
            t.param_id = None;
            t
        })
        .collect();
    let n = matching.len();
    let _ = student.apply(matching, None, None, false);
    n
}

/// Parameters of `editor`'s UNet.
pub fn unet_params(editor: &Editor) -> usize {
    editor.unet.num_params()
}
