//! Conditioning dropout draws (InstructPix2Pix section 3.2.1; the reference script's single
//! uniform per row). The draws are plain numbers from the step's generator; the embedders apply
//! them ([`crate::editor::Editor::encode_prompts`], [`crate::editor::Editor::unet_input`], the
//! reward module's `drop_rewards_with`), so the null condition lives in the embedder.

use rand::RngExt;

use crate::recipe::DropoutConfig;

/// Which conditions row `i` of a batch loses.
#[derive(Debug, Clone, PartialEq)]
pub struct DropDraws {
    pub text: Vec<bool>,
    pub image: Vec<bool>,
    /// Uniforms for the reward module (row dropped if `u < null_dropout`).
    pub reward_uniforms: Vec<f32>,
}

/// Draws `b` rows: with `u ~ U(0, 1)`, text is dropped for `u < text`, the image for
/// `text - both <= u < text - both + image`, so `both` rows lose both.
pub fn draw<R: RngExt + ?Sized>(config: &DropoutConfig, b: usize, rng: &mut R) -> DropDraws {
    let image_start = config.text - config.both;
    let mut d = DropDraws { text: Vec::with_capacity(b), image: Vec::with_capacity(b), reward_uniforms: Vec::with_capacity(b) };
    for _ in 0..b {
        let u: f64 = rng.random();
        d.text.push(u < config.text);
        d.image.push(u >= image_start && u < image_start + config.image);
        d.reward_uniforms.push(rng.random());
    }
    d
}
