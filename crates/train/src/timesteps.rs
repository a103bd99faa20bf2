//! Which training timesteps a batch draws. DDPM and InstructPix2Pix draw them uniformly; Esser et
//! al. 2024 (SD3, section 3.1) got better models at equal compute from a logit-normal draw,
//! denser at the middle noise levels. The world editor decides its edit at high noise
//! (checkpoints/world-teacher/PROVENANCE.md, session 4), so whether that helps it is for an A/B.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// The distribution of training timesteps over `0..num_train_timesteps`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimestepSampling {
    /// Every timestep equally often.
    #[default]
    Uniform,
    /// `t = T * sigmoid(mean + std * z)`, `z` standard normal: `mean > 0` leans to noisier steps.
    LogitNormal { mean: f64, std: f64 },
}

impl TimestepSampling {
    /// A config error for parameters that do not define a distribution.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            TimestepSampling::Uniform => Ok(()),
            TimestepSampling::LogitNormal { mean, std } if mean.is_finite() && std.is_finite() && std > 0.0 => Ok(()),
            TimestepSampling::LogitNormal { mean, std } => {
                Err(format!("loss.timesteps: logit_normal needs a finite mean and a std > 0, got mean {mean}, std {std}"))
            }
        }
    }

    /// A sampler of timesteps in `0..n`. `Uniform` draws exactly as runs before this option did,
    /// so they resume with the same timesteps.
    pub fn sampler(self, n: usize) -> impl FnMut(&mut ChaCha8Rng) -> usize {
        move |rng: &mut ChaCha8Rng| match self {
            TimestepSampling::Uniform => rng.random_range(0..n),
            TimestepSampling::LogitNormal { mean, std } => {
                let z: f64 = rng.sample(StandardNormal);
                let u = 1.0 / (1.0 + (-(mean + std * z)).exp());
                ((u * n as f64) as usize).min(n - 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn draws(s: TimestepSampling, k: usize) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut f = s.sampler(1000);
        (0..k).map(|_| f(&mut rng)).collect()
    }

    fn share(v: &[usize], lo: usize, hi: usize) -> f64 {
        v.iter().filter(|&&t| (lo..hi).contains(&t)).count() as f64 / v.len() as f64
    }

    #[test]
    fn uniform_fills_the_schedule_evenly() {
        let v = draws(TimestepSampling::Uniform, 20_000);
        assert!(v.iter().all(|&t| t < 1000));
        for q in 0..4 {
            let s = share(&v, q * 250, (q + 1) * 250);
            assert!((s - 0.25).abs() < 0.015, "quarter {q}: {s}");
        }
    }

    #[test]
    fn logit_normal_concentrates_on_the_middle_and_its_mean_shifts_it() {
        // P(|z| < logit(0.7)) for the standard logit-normal: 0.60, against uniform's 0.40.
        let v = draws(TimestepSampling::LogitNormal { mean: 0.0, std: 1.0 }, 20_000);
        assert!(v.iter().all(|&t| t < 1000));
        let mid = share(&v, 300, 700);
        assert!((mid - 0.60).abs() < 0.02, "{mid}");
        let noisy = draws(TimestepSampling::LogitNormal { mean: 1.0, std: 1.0 }, 20_000);
        let upper = |v: &[usize]| share(v, 500, 1000);
        assert!((upper(&v) - 0.5).abs() < 0.02 && (upper(&noisy) - 0.841).abs() < 0.02, "{} {}", upper(&v), upper(&noisy));
    }

    #[test]
    fn bad_parameters_are_refused_and_the_toml_form_reads() {
        assert!(TimestepSampling::LogitNormal { mean: 0.0, std: 0.0 }.check().is_err());
        assert!(TimestepSampling::LogitNormal { mean: f64::NAN, std: 1.0 }.check().is_err());
        #[derive(Deserialize)]
        struct T {
            timesteps: TimestepSampling,
        }
        let t: T = toml::from_str("timesteps = { kind = \"logit_normal\", mean = 0.5, std = 1.0 }").unwrap();
        assert_eq!(t.timesteps, TimestepSampling::LogitNormal { mean: 0.5, std: 1.0 });
        let t: T = toml::from_str("timesteps = { kind = \"uniform\" }").unwrap();
        assert_eq!(t.timesteps, TimestepSampling::Uniform);
    }
}
