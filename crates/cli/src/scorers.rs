//! `--scorer NAME`: which scorer a command uses, and the LVLM teacher's flags.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result};
use clap::Args;
use burn::tensor::Device;
use rewardedit_scorer::student::Precision;
use rewardedit_scorer::{LvlmConfig, LvlmScorer, OracleScorer, Preset, Scorer, StudentScorer};
use rewardedit_world::JudgeNoise;

use crate::config_file;
use crate::exit::bad_input;

/// A scorer named on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum ScorerChoice {
    /// The LVLM teacher (an OpenAI-compatible endpoint).
    Lvlm,
    /// The edit world's oracle (world items only): exact (`oracle`), or with judge noise like an
    /// LVLM (`oracle:noisy`, or `oracle:noisy=SD,FLIP,BIAS_F,BIAS_P,BIAS_Q`).
    Oracle { noise: Option<JudgeNoise> },
    /// A distilled student scorer folder (`student:DIR`, or `student-int8:DIR` for int8 weights).
    Student { dir: PathBuf, int8: bool },
}

impl FromStr for ScorerChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lvlm" => Ok(ScorerChoice::Lvlm),
            "oracle" => Ok(ScorerChoice::Oracle { noise: None }),
            "oracle:noisy" => Ok(ScorerChoice::Oracle { noise: Some(JudgeNoise::LVLM_STAND_IN) }),
            other => match other.split_once(':') {
                Some(("student", dir)) if !dir.is_empty() => Ok(ScorerChoice::Student { dir: dir.into(), int8: false }),
                Some(("student-int8", dir)) if !dir.is_empty() => Ok(ScorerChoice::Student { dir: dir.into(), int8: true }),
                Some(("oracle", noisy)) if noisy.starts_with("noisy=") => parse_noise(&noisy["noisy=".len()..]),
                _ => Err(format!(
                    "unknown scorer {other:?}: expected lvlm, oracle, oracle:noisy, oracle:noisy=SD,FLIP,BIAS_F,BIAS_P,BIAS_Q, \
                     student:DIR or student-int8:DIR (e.g. student:checkpoints/student-scorer)"
                )),
            },
        }
    }
}

/// `SD,FLIP,BIAS_F,BIAS_P,BIAS_Q` of `oracle:noisy=...`: score noise sd and biases in score points,
/// the verdict flip probability in [0, 1].
fn parse_noise(values: &str) -> Result<ScorerChoice, String> {
    let usage = "oracle:noisy= takes five numbers SD,FLIP,BIAS_F,BIAS_P,BIAS_Q (score sd, verdict flip probability, \
                 bias per axis in score points), e.g. oracle:noisy=0.5,0.1,0.2,0,-0.2";
    let v: Vec<f32> = values.split(',').map(|x| x.trim().parse::<f32>()).collect::<Result<_, _>>().map_err(|e| format!("{usage}: {e}"))?;
    let [score_sd, flip_probability, f, p, q] = v[..] else {
        return Err(format!("{usage}; got {} numbers", v.len()));
    };
    let noise = JudgeNoise { score_sd, flip_probability, bias: [f, p, q] };
    noise.validate().map_err(|e| format!("{usage}: {e}"))?;
    Ok(ScorerChoice::Oracle { noise: Some(noise) })
}

/// The LVLM teacher's settings: flags override the environment (`REWARDEDIT_LVLM_BASE_URL`,
/// `REWARDEDIT_LVLM_API_KEY`, `REWARDEDIT_LVLM_MODEL`), which overrides the config file.
#[derive(Args, Debug, Clone, Default)]
pub struct LvlmArgs {
    /// Judge protocol: `joint` (one request per edit) or `paper` (three, one rubric each).
    #[arg(long, value_parser = parse_preset)]
    pub preset: Option<Preset>,
    /// Base URL of the OpenAI-compatible API, e.g. http://localhost:8000/v1.
    #[arg(long)]
    pub base_url: Option<String>,
    /// API key (prefer the environment variable: flags show up in process lists).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Model name, e.g. gpt-4o or Qwen/Qwen2.5-VL-7B-Instruct.
    #[arg(long)]
    pub model: Option<String>,
    /// A TOML file with any `LvlmConfig` field (timeouts, retries, concurrency, prices...).
    #[arg(long)]
    pub lvlm_config: Option<PathBuf>,
    /// Do not read or write the reply cache.
    #[arg(long)]
    pub no_cache: bool,
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    match s {
        "joint" => Ok(Preset::Joint),
        "paper" => Ok(Preset::Paper),
        other => Err(format!("unknown preset {other:?}: expected joint or paper")),
    }
}

impl LvlmArgs {
    /// The resolved configuration: the config file (or defaults), then the environment, then flags.
    pub fn config(&self) -> Result<LvlmConfig> {
        let mut cfg =
            config_file::load_or_default::<LvlmConfig>(self.lvlm_config.as_deref(), "LVLM config")?.with_env();
        if let Some(p) = self.preset {
            cfg.preset = p;
        }
        if let Some(u) = &self.base_url {
            cfg.base_url = u.clone();
        }
        if let Some(k) = &self.api_key {
            cfg.api_key = Some(k.clone());
        }
        if let Some(m) = &self.model {
            cfg.model = m.clone();
        }
        cfg.no_cache |= self.no_cache;
        cfg.validate().map_err(|e| bad_input(format!("LVLM settings: {e}")))?;
        Ok(cfg)
    }
}

/// A ready scorer. The LVLM teacher is kept typed so progress can show its usage and cost.
#[allow(clippy::large_enum_variant)] // one per command: boxing would only add a deref
pub enum Built {
    Lvlm(LvlmScorer),
    Other(Box<dyn Scorer>),
}

impl Built {
    pub fn scorer(&self) -> &dyn Scorer {
        match self {
            Built::Lvlm(s) => s,
            Built::Other(s) => s.as_ref(),
        }
    }
}

/// The scorer named by `choice`; model scorers run on `device`.
pub fn build(choice: &ScorerChoice, lvlm: &LvlmArgs, device: &Device) -> Result<Built> {
    Ok(match choice {
        ScorerChoice::Lvlm => {
            Built::Lvlm(LvlmScorer::new(lvlm.config()?).context("starting the LVLM teacher")?)
        }
        ScorerChoice::Oracle { noise: None } => Built::Other(Box::new(OracleScorer::exact())),
        ScorerChoice::Oracle { noise: Some(noise) } => {
            Built::Other(Box::new(OracleScorer::noisy(*noise).map_err(|e| bad_input(e.to_string()))?))
        }
        ScorerChoice::Student { dir, int8 } => {
            let precision = if *int8 { Precision::Int8 } else { Precision::Fp32 };
            let student = StudentScorer::load(dir, precision, device)
                .map_err(|e| bad_input(format!("cannot load the student scorer from {}: {e}", dir.display())))?;
            Built::Other(Box::new(student))
        }
    })
}
