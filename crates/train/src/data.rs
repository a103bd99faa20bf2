//! Training triplets: the edit world generated on the fly (a pure function of seed and index,
//! so resuming needs no data state), or any data set on disk that core reads (manifest,
//! RewardEdit-20K, image folder), grouped into aspect-ratio buckets instead of squashed square.
//!
//! Draw `d` (the `d`-th forward pass of the run: `step * grad_accum + micro`) is a function of
//! (seed, d) alone, so a resumed run sees exactly the batches of an uninterrupted one.

use std::collections::BTreeMap;
use std::str::FromStr;

use burn::prelude::*;
use image::{GrayImage, RgbImage};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rewardedit_core::formats::{read_examples, FormatSpec};
use rewardedit_core::image_io::{load_rgb, probe, resize_to, target_size, ImageLimits};
use rewardedit_core::RewardCondition;
use rewardedit_core::{EditExample, Reward};
use rewardedit_world::{sample_triplet, WorldConfig};
use serde::{Deserialize, Serialize};

use crate::{Result, TrainError};

fn d_vocab_samples() -> u64 { 2000 }
fn d_multiple() -> u32 { 8 }

/// Where training triplets come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataSource {
    /// The edit world, sampled on the fly: triplet `i` of world seed `seed`. Images are square,
    /// `world.size` pixels (resized to `model.resolution` if different).
    World {
        /// World data-set seed (distinct seeds give disjoint data sets).
        seed: u64,
        /// Fixed data-set size: draws pick uniformly among triplets `0..n`. Absent: an endless
        /// stream, every example fresh (draw `d` uses triplets `d * batch .. (d + 1) * batch`).
        #[serde(default)]
        n: Option<u64>,
        /// Triplets read to build the word vocabulary (instructions and reward texts).
        #[serde(default = "d_vocab_samples")]
        vocab_samples: u64,
        /// The world: image size, flaw mix, phrasing set, judge noise.
        #[serde(default)]
        world: WorldConfig,
    },
    /// A data set on disk as `FORMAT:PATH` (`manifest:DIR`, `rewardedit20k:JSON,ROOT`,
    /// `imagefolder:DIR`); images go into aspect-ratio buckets whose long side is
    /// `model.resolution`, both sides multiples of `bucket_multiple`.
    Folder {
        spec: String,
        /// Side multiple of the buckets (8 in pixel space, 64 for SD's latents).
        #[serde(default = "d_multiple")]
        bucket_multiple: u32,
    },
}

impl DataSource {
    pub fn validate(&self) -> Result<()> {
        match self {
            DataSource::World { n, world, vocab_samples, .. } => {
                world.validate()?;
                if *n == Some(0) || *vocab_samples == 0 {
                    return Err(TrainError::Config("data: n and vocab_samples must be positive".into()));
                }
            }
            DataSource::Folder { spec, bucket_multiple } => {
                FormatSpec::from_str(spec)?;
                if *bucket_multiple == 0 {
                    return Err(TrainError::Config("data.bucket_multiple must be positive".into()));
                }
            }
        }
        Ok(())
    }
}

/// One training triplet, images at their bucket's size.
#[derive(Debug, Clone)]
pub struct TrainExample {
    pub source: RgbImage,
    /// What the editor learns to produce (the data set's edited image, flaws and all).
    pub edited: RgbImage,
    pub instruction: String,
    /// The data's measurement of this triplet (the noisy oracle for the world).
    pub reward: Option<Reward>,
    /// Where the instruction allows change (255 = may change), at the world's size (the loss
    /// resamples it to the model's output): the world's edit region; folder data has none.
    pub region: Option<GrayImage>,
}

impl TrainExample {
    /// The reward text the authors train with: the three flaw sentences joined by "; ".
    pub fn reward_text(&self) -> Option<String> {
        self.reward.as_ref().map(Reward::joined_text)
    }
}

/// One size class of a folder data set.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub width: u32,
    pub height: u32,
    /// Indices into the examples.
    pub members: Vec<usize>,
}

/// A data source opened for training.
#[derive(Debug)]
pub enum Dataset {
    World { world: WorldConfig, seed: u64, n: Option<u64>, vocab_samples: u64, resolution: u32 },
    Folder { examples: Vec<EditExample>, buckets: Vec<Bucket> },
}

impl Dataset {
    /// Opens `source`; for folders, reads every example and probes its image size (headers only).
    pub fn open(source: &DataSource, resolution: u32) -> Result<Self> {
        match source {
            DataSource::World { seed, n, vocab_samples, world } => Ok(Dataset::World {
                world: world.clone(),
                seed: *seed,
                n: *n,
                vocab_samples: *vocab_samples,
                resolution,
            }),
            DataSource::Folder { spec, bucket_multiple } => {
                let spec = FormatSpec::from_str(spec)?;
                let examples: Vec<EditExample> = read_examples(&spec)?.collect::<std::result::Result<_, _>>()?;
                if examples.is_empty() {
                    return Err(TrainError::Data(format!("{spec}: no examples")));
                }
                let limits = ImageLimits::default();
                let mut by_size: BTreeMap<(u32, u32), Vec<usize>> = BTreeMap::new();
                for (i, e) in examples.iter().enumerate() {
                    let info = probe(&e.source, &limits)?;
                    let key = target_size(info.width, info.height, resolution, *bucket_multiple);
                    by_size.entry(key).or_default().push(i);
                }
                let buckets = by_size.into_iter().map(|((width, height), members)| Bucket { width, height, members }).collect();
                Ok(Dataset::Folder { examples, buckets })
            }
        }
    }

    /// Bucket sizes `(width, height, examples)` (one square bucket for the world).
    pub fn buckets(&self) -> Vec<(u32, u32, usize)> {
        match self {
            Dataset::World { resolution, n, .. } => vec![(*resolution, *resolution, n.unwrap_or(u64::MAX) as usize)],
            Dataset::Folder { buckets, .. } => buckets.iter().map(|b| (b.width, b.height, b.members.len())).collect(),
        }
    }

    /// Texts the word vocabulary is built from: instructions, reward texts, the inference text.
    pub fn vocab_texts(&self) -> Result<Vec<String>> {
        // The paper's "None; None; None" stays in every vocabulary (SD editors are asked with it;
        // dropping it would renumber the words of every world run).
        let mut texts = vec![RewardCondition::paper_default().text().to_owned()];
        match self {
            Dataset::World { world, seed, vocab_samples, n, .. } => {
                for i in 0..(*vocab_samples).min(n.unwrap_or(u64::MAX)) {
                    let t = sample_triplet(world, *seed, i)?;
                    texts.push(t.instruction.text);
                    texts.push(t.reward.joined_text());
                }
            }
            Dataset::Folder { examples, .. } => {
                for e in examples {
                    texts.push(e.instruction.clone());
                    if let Some(r) = &e.rewards {
                        texts.push(r.joined_text());
                    }
                }
            }
        }
        Ok(texts)
    }

    /// The `batch` examples of draw `draw` (all of one bucket's size).
    pub fn batch(&self, seed: u64, draw: u64, batch: usize) -> Result<Vec<TrainExample>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6461_7461); // "data"
        rng.set_stream(draw);
        match self {
            Dataset::World { world, seed: world_seed, n, resolution, .. } => {
                let indices: Vec<u64> = (0..batch as u64)
                    .map(|j| match n {
                        Some(n) => rng.random_range(0..*n),
                        None => draw * batch as u64 + j,
                    })
                    .collect();
                // Rendering and oracle scoring take ~7 ms a triplet: serially they would cap a
                // GPU run near 150 samples/s. The indices are drawn first, so the batch is the
                // same however many threads render it.
                indices.into_par_iter().map(|index| {
                    let t = sample_triplet(world, *world_seed, index)?;
                    let r = *resolution;
                    Ok(TrainExample {
                        source: resize_to(&t.source, r, r),
                        edited: resize_to(&t.edited, r, r),
                        instruction: t.instruction.text,
                        reward: Some(t.reward),
                        region: Some(t.mask),
                    })
                })
                .collect()
            }
            Dataset::Folder { examples, buckets } => {
                // A bucket with probability proportional to its size, then members uniformly.
                let total: usize = buckets.iter().map(|b| b.members.len()).sum();
                let mut k = rng.random_range(0..total);
                let bucket = buckets
                    .iter()
                    .find(|b| {
                        if k < b.members.len() {
                            true
                        } else {
                            k -= b.members.len();
                            false
                        }
                    })
                    .expect("k < total");
                (0..batch)
                    .map(|_| {
                        let e = &examples[bucket.members[rng.random_range(0..bucket.members.len())]];
                        Ok(TrainExample {
                            source: resize_to(&load_rgb(&e.source)?, bucket.width, bucket.height),
                            edited: resize_to(&load_rgb(&e.edited)?, bucket.width, bucket.height),
                            instruction: e.instruction.clone(),
                            reward: e.rewards.clone(),
                            region: None,
                        })
                    })
                    .collect()
            }
        }
    }
}

/// Images as a `[B, 3, H, W]` tensor in [-1, 1].
pub fn images_tensor(images: &[&RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = images[0].dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut data = Vec::with_capacity(images.len() * 3 * h * w);
    for img in images {
        assert_eq!(img.dimensions(), images[0].dimensions(), "one size per batch");
        for c in 0..3 {
            data.extend(img.pixels().map(|p| p.0[c] as f32 / 127.5 - 1.0));
        }
    }
    Tensor::from_data(TensorData::new(data, [images.len(), 3, h, w]), device)
}

/// A `[B, 3, H, W]` tensor in [-1, 1] back to images.
pub fn tensor_images(t: Tensor<4>) -> Vec<RgbImage> {
    let [b, _, h, w] = t.dims();
    let v: Vec<f32> = t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data");
    (0..b)
        .map(|i| {
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let px = |c: usize| {
                    let f = v[((i * 3 + c) * h + y as usize) * w + x as usize];
                    ((f + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
                };
                image::Rgb([px(0), px(1), px(2)])
            })
        })
        .collect()
}

/// Where a run's data lives on disk, for messages.
pub fn describe(source: &DataSource) -> String {
    match source {
        DataSource::World { seed, n, world, .. } => format!(
            "world seed {seed}, {} px, {}, clean fraction {}{}",
            world.size,
            n.map_or("endless stream".into(), |n| format!("{n} triplets")),
            world.clean_fraction,
            if world.judge_noise.is_some() { ", noisy oracle labels" } else { ", exact oracle labels" }
        ),
        DataSource::Folder { spec, .. } => spec.clone(),
    }
}

