//! The int8 weight format of the student (`model.int8.safetensors`), and its dequantisation.
//!
//! burn 0.22 quantizes weights in memory (`Module::quantize_weights`, Q8S per tensor), but its
//! safetensors store refuses quantized tensors, so the file format is our own, in plain
//! safetensors so any tool can read it:
//! - every float tensor of rank >= 2 (convolution, linear, embedding weights) is stored as `I8`
//!   values `q` with a per-tensor F32 scale under `<key>.__scale` (shape `[1]`); the weight is
//!   `q * scale`, with `scale = max|w| / 127` (symmetric, zero point 0: burn's Q8S scheme);
//! - rank-1 tensors (biases, norm gains) stay F32: they are a few hundred numbers.
//! At load the weights are dequantised to f32 ([`dequantize_file`]); on CPU burn's quantized
//! tensors are dequantised for every matmul anyway (burn-notes.md "Quantization").

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// Suffix of the scale tensor stored beside each quantized weight.
pub const SCALE_SUFFIX: &str = ".__scale";

/// Symmetric per-tensor int8: `(q, scale)` with `w ≈ q * scale`, `|q| <= 127`. An all-zero
/// tensor gets scale 1.
pub fn quantize_symmetric(w: &[f32]) -> (Vec<i8>, f32) {
    let max = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 && max.is_finite() { max / 127.0 } else { 1.0 };
    let q = w.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect();
    (q, scale)
}

/// `q * scale`.
pub fn dequantize_symmetric(q: &[i8], scale: f32) -> Vec<f32> {
    q.iter().map(|&v| f32::from(v) * scale).collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn le_bytes(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Serializes named `(dtype, shape, bytes)` tensors as safetensors.
fn serialize(tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(k, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (k.clone(), v)).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, Some(HashMap::from([("format".to_string(), "rewardedit-int8-v1".to_string())])))
        .map_err(|e| e.to_string())
}

/// The int8 file for an fp32 safetensors file (both as bytes).
pub fn quantize_file(fp32: &[u8]) -> Result<Vec<u8>, String> {
    let st = SafeTensors::deserialize(fp32).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut names = st.names();
    names.sort();
    for name in names {
        let view = st.tensor(name).map_err(|e| e.to_string())?;
        let shape = view.shape().to_vec();
        if view.dtype() == Dtype::F32 && shape.len() >= 2 {
            let (q, scale) = quantize_symmetric(&f32s(view.data()));
            out.push((name.to_string(), Dtype::I8, shape, q.iter().map(|&v| v as u8).collect()));
            out.push((format!("{name}{SCALE_SUFFIX}"), Dtype::F32, vec![1], scale.to_le_bytes().to_vec()));
        } else {
            out.push((name.to_string(), view.dtype(), shape, view.data().to_vec()));
        }
    }
    serialize(&out)
}

/// The fp32 safetensors bytes of an int8 file: every `I8` tensor times its scale.
pub fn dequantize_file(int8: &[u8]) -> Result<Vec<u8>, String> {
    let st = SafeTensors::deserialize(int8).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        if name.ends_with(SCALE_SUFFIX) {
            continue;
        }
        let shape = view.shape().to_vec();
        if view.dtype() == Dtype::I8 {
            let scale_name = format!("{name}{SCALE_SUFFIX}");
            let scale = st.tensor(&scale_name).map_err(|_| format!("{name}: int8 tensor without {scale_name}"))?;
            let scale = match (scale.dtype(), f32s(scale.data()).as_slice()) {
                (Dtype::F32, [s]) if s.is_finite() => *s,
                _ => return Err(format!("{scale_name}: expected one finite F32")),
            };
            let q: Vec<i8> = view.data().iter().map(|&b| b as i8).collect();
            out.push((name, Dtype::F32, shape, le_bytes(&dequantize_symmetric(&q, scale))));
        } else {
            out.push((name, view.dtype(), shape, view.data().to_vec()));
        }
    }
    serialize(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_round_trip_error_is_at_most_half_a_step() {
        let w = [0.5f32, -1.27, 0.0, 0.3333, 1.0];
        let (q, s) = quantize_symmetric(&w);
        assert_eq!(q[1], -127);
        assert!((s - 0.01).abs() < 1e-7);
        for (a, b) in w.iter().zip(dequantize_symmetric(&q, s)) {
            assert!((a - b).abs() <= s / 2.0 + 1e-7, "{a} vs {b}");
        }
        assert_eq!(quantize_symmetric(&[0.0, 0.0]), (vec![0, 0], 1.0));
    }
}
