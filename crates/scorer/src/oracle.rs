//! The world oracle behind the [`Scorer`] trait, so every recipe can run in the edit world.
//! It needs to know the scene and the edit: it recovers them from the request's provenance,
//! as `rewardedit world sample` writes it (`scene`, `op`, `size`, `phrasing`).

use rewardedit_core::Reward;
use rewardedit_world::{EditOp, Instruction, JudgeNoise, Oracle, PhrasingSet, Scene};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{image_hash, ScoreError, ScoreRequest, Scorer};

/// The world facts a manifest line's provenance carries.
#[derive(Deserialize)]
struct WorldProvenance {
    scene: Scene,
    op: EditOp,
    size: u32,
    #[serde(default)]
    phrasing: PhrasingSet,
}

/// Exact scores from the world oracle, optionally made noisy like an LVLM judge.
pub struct OracleScorer {
    noise: Option<JudgeNoise>,
}

impl OracleScorer {
    /// The exact oracle.
    pub fn exact() -> Self {
        OracleScorer { noise: None }
    }

    /// The oracle with judge noise; the same request always gets the same noise.
    pub fn noisy(noise: JudgeNoise) -> Result<Self, ScoreError> {
        noise.validate().map_err(|e| ScoreError::Config(e.to_string()))?;
        Ok(OracleScorer { noise: Some(noise) })
    }
}

impl Scorer for OracleScorer {
    fn describe(&self) -> String {
        if self.noise.is_some() { "oracle:noisy".into() } else { "oracle".into() }
    }

    fn score(&self, request: &ScoreRequest) -> Result<Reward, ScoreError> {
        request.validate()?;
        let world: WorldProvenance = serde_json::from_value(request.provenance.clone()).map_err(|e| {
            ScoreError::InvalidRequest(format!(
                "{}: the oracle scores edit-world items only, and this item's provenance has no world scene ({e}); \
                 use a manifest written by `rewardedit world sample`",
                request.id
            ))
        })?;
        let instruction = Instruction {
            edit_type: world.op.edit_type(),
            op: world.op,
            text: request.instruction.clone(),
            phrasing: world.phrasing,
            template: 0,
        };
        let exact = Oracle::new(world.size)
            .score(&world.scene, &instruction, &request.edited)
            .map_err(|e| ScoreError::InvalidRequest(format!("{}: {e}", request.id)))?;
        match &self.noise {
            None => Ok(exact),
            Some(noise) => {
                // Seeded by the edited image and the instruction: a re-run gets the same noise.
                let mut h = Sha256::new();
                h.update(image_hash(&request.edited));
                h.update(request.instruction.as_bytes());
                let digest: [u8; 32] = h.finalize().into();
                let seed = u64::from_le_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"));
                noise.apply(&exact, seed).map_err(|e| ScoreError::Config(e.to_string()))
            }
        }
    }
}
