//! The sampler and guidance flags of the commands that edit (`edit`, `eval`): one definition,
//! so both parse, check and document them alike.

use anyhow::Result;
use clap::Args as ClapArgs;
use rewardedit_models::pipeline::EditSettings;
use rewardedit_models::schedulers::SchedulerKind;

use crate::exit::InputContext;

#[derive(ClapArgs, Debug, Clone, Default)]
pub struct SamplerArgs {
    /// Sampler: euler-a, ddim, dpm++ (default: the editor's own).
    #[arg(long)]
    pub scheduler: Option<String>,
    /// Text (instruction) guidance scale; 1 = none (default: the editor's own).
    #[arg(long)]
    pub text_cfg: Option<f64>,
    /// Image guidance scale; 1 = none (default: the editor's own).
    #[arg(long)]
    pub image_cfg: Option<f64>,
    /// Reward guidance scale (requested rewards vs the learned null reward); 1 = none (default:
    /// the editor's own).
    #[arg(long)]
    pub reward_cfg: Option<f64>,
}

impl SamplerArgs {
    /// The sampler asked for, if any; an unknown name is bad input.
    pub fn scheduler(&self) -> Result<Option<SchedulerKind>> {
        self.scheduler.as_deref().map(str::parse::<SchedulerKind>).transpose().bad_input()
    }

    /// `base` with these flags applied and checked (a bad scale is bad input, named).
    pub fn apply(&self, base: &EditSettings) -> Result<EditSettings> {
        let settings = EditSettings {
            scheduler: self.scheduler()?.unwrap_or(base.scheduler),
            text_cfg: self.text_cfg.unwrap_or(base.text_cfg),
            image_cfg: self.image_cfg.unwrap_or(base.image_cfg),
            reward_cfg: self.reward_cfg.unwrap_or(base.reward_cfg),
            ..base.clone()
        };
        settings.validate().bad_input()?;
        Ok(settings)
    }
}
