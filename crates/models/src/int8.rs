//! Our int8 weight format, in plain safetensors, and its dequantisation (the student scorer's
//! `model.int8.safetensors` and int8 editor folders share it).
//!
//! burn 0.22 quantizes weights in memory (`Module::quantize_weights`, per tensor only) but its
//! safetensors store refuses quantized tensors, so the file format is our own, readable by any
//! safetensors tool:
//! - every F32 tensor of rank >= 2 (convolution, linear, embedding weights) is stored as `I8`
//!   values `q` (`|q| <= 127`) with F32 scales under `<key>.__scale`; the weight is `q * scale`,
//!   symmetric with zero point 0 (burn's Q8S scheme);
//! - the scale tensor has shape `[1]` (one scale for the tensor, `max|w| / 127`) or `[rows]`
//!   with `rows = shape[0]`: one scale per row along the first axis, `max|w_row| / 127`, where
//!   a row is the `shape[1..]` block it heads. In PyTorch layout (editor folders: conv
//!   `[out, in, kh, kw]`, linear `[out, in]`, embedding `[tokens, dim]`) that is one scale per
//!   output channel or token. An all-zero tensor or row gets scale 1;
//! - every other tensor (biases, norm gains: a few hundred numbers each) is kept as it is;
//! - the file's metadata says `format`: [`FORMAT_V1`] (per tensor, written by the student
//!   scorer) or [`FORMAT_V2`] (per output channel, written by `rewardedit quantize`). The reader
//!   takes both by the scale's shape.
//!
//! At load the weights are dequantised to f32 ([`dequantize_file`]): on CPU burn's quantized
//! tensors are dequantised for every matmul anyway (burn-notes.md "Quantization"), so int8
//! saves disk and download size, not time.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// Suffix of the scale tensor stored beside each quantized weight.
pub const SCALE_SUFFIX: &str = ".__scale";
/// The safetensors metadata key naming the format.
pub const FORMAT_KEY: &str = "format";
/// One scale per tensor.
pub const FORMAT_V1: &str = "rewardedit-int8-v1";
/// One scale per output channel (first-axis row).
pub const FORMAT_V2: &str = "rewardedit-int8-v2";
/// What every version of the format starts with.
const FORMAT_PREFIX: &str = "rewardedit-int8-";

/// Why int8 weights could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("int8 weights: {0}")]
pub struct Int8Error(pub String);

type Result<T> = std::result::Result<T, Int8Error>;

/// How many scales a quantized tensor gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One scale per tensor ([`FORMAT_V1`]).
    PerTensor,
    /// One scale per first-axis row: per output channel in PyTorch layout ([`FORMAT_V2`]).
    PerChannel,
}

impl Granularity {
    /// The format version string written into the file's metadata.
    pub fn format(self) -> &'static str {
        match self {
            Granularity::PerTensor => FORMAT_V1,
            Granularity::PerChannel => FORMAT_V2,
        }
    }
}

/// Whether a safetensors `format` metadata value names (some version of) this format.
pub fn is_int8_format(format: &str) -> bool {
    format.starts_with(FORMAT_PREFIX)
}

/// One line describing a known format version, for `model inspect`.
pub fn describe_format(format: &str) -> Option<&'static str> {
    match format {
        FORMAT_V1 => Some("int8, one scale per tensor, dequantised to float at load"),
        FORMAT_V2 => Some("int8, one scale per output channel, dequantised to float at load"),
        // What burn's store and PyTorch's save_file write: plain float tensors.
        "safetensors" | "pt" => Some("float tensors"),
        _ => None,
    }
}

/// Symmetric int8 of a block: `(q, scale)` with `w ≈ q * scale`, `|q| <= 127`. An all-zero
/// block gets scale 1.
pub fn quantize_symmetric(w: &[f32]) -> (Vec<i8>, f32) {
    let max = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 && max.is_finite() { max / 127.0 } else { 1.0 };
    let q = w.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect();
    (q, scale)
}

/// Symmetric int8 with one scale per row of `w` (`rows` equal contiguous blocks).
pub fn quantize_per_row(w: &[f32], rows: usize) -> (Vec<i8>, Vec<f32>) {
    assert!(rows > 0 && w.len().is_multiple_of(rows), "{} values do not split into {rows} rows", w.len());
    let (mut q, mut scales) = (Vec::with_capacity(w.len()), Vec::with_capacity(rows));
    for row in w.chunks_exact(w.len() / rows) {
        let (qr, s) = quantize_symmetric(row);
        q.extend(qr);
        scales.push(s);
    }
    (q, scales)
}

/// `q * scale`, with one scale for all of `q` or one per row (`scales.len()` equal rows).
pub fn dequantize(q: &[i8], scales: &[f32]) -> Vec<f32> {
    assert!(!scales.is_empty() && q.len().is_multiple_of(scales.len()), "{} scales for {} values", scales.len(), q.len());
    let row = q.len() / scales.len();
    q.chunks_exact(row.max(1)).zip(scales).flat_map(|(r, &s)| r.iter().map(move |&v| f32::from(v) * s)).collect()
}

/// Why a scale of shape `scale` does not fit a weight of shape `weight` (`None`: no scale).
pub fn scale_mismatch(weight: &[usize], scale: Option<&[usize]>) -> Option<String> {
    match scale {
        None => Some(format!("int8 tensor without its {SCALE_SUFFIX}")),
        Some([1]) => None,
        Some([n]) if weight.first() == Some(n) => None,
        Some(s) => Some(format!("scale of shape {s:?} fits neither [1] nor one per row of {weight:?}")),
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn le_bytes(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A named tensor to serialize: `(name, dtype, shape, bytes)`.
type Entry = (String, Dtype, Vec<usize>, Vec<u8>);

/// Serializes named tensors as safetensors with `metadata`.
fn serialize(tensors: &[Entry], metadata: Option<HashMap<String, String>>) -> Result<Vec<u8>> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(k, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (k.clone(), v)).map_err(|e| Int8Error(e.to_string())))
        .collect::<Result<_>>()?;
    safetensors::serialize(views, metadata).map_err(|e| Int8Error(e.to_string()))
}

/// The `format` in a safetensors file's metadata (bytes of the whole file).
pub fn file_format(bytes: &[u8]) -> Result<Option<String>> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| Int8Error(e.to_string()))?;
    Ok(meta.metadata().as_ref().and_then(|m| m.get(FORMAT_KEY).cloned()))
}

/// The int8 file for a safetensors file (both as bytes): F32 tensors of rank >= 2 quantized at
/// `granularity`, the rest copied. Non-finite weights are refused (they have no int8 value).
pub fn quantize_file(fp32: &[u8], granularity: Granularity) -> Result<Vec<u8>> {
    let st = SafeTensors::deserialize(fp32).map_err(|e| Int8Error(e.to_string()))?;
    let mut out = Vec::new();
    let mut names = st.names();
    names.sort();
    for name in names {
        let view = st.tensor(name).map_err(|e| Int8Error(e.to_string()))?;
        let shape = view.shape().to_vec();
        if view.dtype() != Dtype::F32 || shape.len() < 2 || shape.contains(&0) {
            out.push((name.to_string(), view.dtype(), shape, view.data().to_vec()));
            continue;
        }
        let w = f32s(view.data());
        if w.iter().any(|x| !x.is_finite()) {
            return Err(Int8Error(format!("{name} has non-finite values: nothing to quantize")));
        }
        let (q, scales) = match granularity {
            Granularity::PerTensor => {
                let (q, s) = quantize_symmetric(&w);
                (q, vec![s])
            }
            Granularity::PerChannel => quantize_per_row(&w, shape[0]),
        };
        let scale_shape = vec![scales.len()];
        out.push((name.to_string(), Dtype::I8, shape, q.iter().map(|&v| v as u8).collect()));
        out.push((format!("{name}{SCALE_SUFFIX}"), Dtype::F32, scale_shape, le_bytes(&scales)));
    }
    serialize(&out, Some(HashMap::from([(FORMAT_KEY.to_string(), granularity.format().to_string())])))
}

/// The safetensors bytes of an int8 file with every `I8` tensor times its scale, as F32 (the
/// other tensors as they were). Refuses a format version it does not know.
pub fn dequantize_file(int8: &[u8]) -> Result<Vec<u8>> {
    match file_format(int8)? {
        Some(f) if f == FORMAT_V1 || f == FORMAT_V2 => {}
        Some(f) => return Err(Int8Error(format!("format {f:?} is not one this build reads ({FORMAT_V1}, {FORMAT_V2}): update rewardedit"))),
        None => return Err(Int8Error(format!("no format in the file's metadata: expected {FORMAT_V1} or {FORMAT_V2}"))),
    }
    let st = SafeTensors::deserialize(int8).map_err(|e| Int8Error(e.to_string()))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        if let Some(base) = name.strip_suffix(SCALE_SUFFIX)
            && st.tensor(base).is_ok_and(|w| w.dtype() == Dtype::I8) {
                continue;
            }
        if view.dtype() != Dtype::I8 {
            out.push((name, view.dtype(), shape, view.data().to_vec()));
            continue;
        }
        let scale_name = format!("{name}{SCALE_SUFFIX}");
        let scale = st.tensor(&scale_name).ok();
        if let Some(why) = scale_mismatch(&shape, scale.as_ref().map(|s| s.shape())) {
            return Err(Int8Error(format!("{name}: {why}")));
        }
        let scale = scale.expect("checked above");
        let scales = f32s(scale.data());
        if scale.dtype() != Dtype::F32 || scales.iter().any(|s| !s.is_finite()) {
            return Err(Int8Error(format!("{scale_name}: expected finite F32 scales")));
        }
        let q: Vec<i8> = view.data().iter().map(|&b| b as i8).collect();
        out.push((name, Dtype::F32, shape, le_bytes(&dequantize(&q, &scales))));
    }
    serialize(&out, None)
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
        for (a, b) in w.iter().zip(dequantize(&q, &[s])) {
            assert!((a - b).abs() <= s / 2.0 + 1e-7, "{a} vs {b}");
        }
        assert_eq!(quantize_symmetric(&[0.0, 0.0]), (vec![0, 0], 1.0));
    }

    /// `rows` rows of 50 values in [-1, 1] (a fixed pseudo-random pattern), row 0 times 100.
    fn one_large_row(rows: usize) -> Vec<f32> {
        (0..rows * 50)
            .map(|i| {
                let x = ((i as f32 * 0.618_034).fract() * 2.0) - 1.0;
                if i < 50 { x * 100.0 } else { x }
            })
            .collect()
    }

    #[test]
    fn per_channel_error_is_at_most_half_a_step_of_each_row() {
        let w = one_large_row(6);
        let (q, scales) = quantize_per_row(&w, 6);
        assert_eq!(scales.len(), 6);
        let back = dequantize(&q, &scales);
        for (r, (row, back)) in w.chunks(50).zip(back.chunks(50)).enumerate() {
            let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!((scales[r] - max / 127.0).abs() <= 1e-7 * max, "row {r}: scale {}", scales[r]);
            for (a, b) in row.iter().zip(back) {
                assert!((a - b).abs() <= scales[r] / 2.0 * (1.0 + 1e-5), "row {r}: {a} -> {b}");
            }
        }
    }

    #[test]
    fn per_channel_beats_per_tensor_when_one_row_is_large() {
        let w = one_large_row(6);
        let (q, s) = quantize_symmetric(&w);
        let per_tensor = dequantize(&q, &[s]);
        let (q, scales) = quantize_per_row(&w, 6);
        let per_channel = dequantize(&q, &scales);
        // The small rows: per tensor their step is the large row's (100/127), per channel 1/127.
        let err = |back: &[f32]| w[50..].iter().zip(&back[50..]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let (t, c) = (err(&per_tensor), err(&per_channel));
        assert!(c < t / 50.0, "small rows: per channel {c}, per tensor {t}");
        // The large row itself is quantized alike.
        let sq = |back: &[f32]| w.iter().zip(back).map(|(a, b)| (a - b).powi(2)).sum::<f32>();
        assert!(sq(&per_channel) < sq(&per_tensor), "{} vs {}", sq(&per_channel), sq(&per_tensor));
    }

    fn file_of(name: &str, shape: Vec<usize>, w: &[f32]) -> Vec<u8> {
        serialize(&[(name.to_string(), Dtype::F32, shape, le_bytes(w))], None).unwrap()
    }

    #[test]
    fn files_round_trip_in_both_versions_and_unknown_versions_are_refused() {
        let w = one_large_row(4);
        let fp32 = file_of("conv.weight", vec![4, 2, 5, 5], &w);
        for (granularity, scales) in [(Granularity::PerTensor, 1), (Granularity::PerChannel, 4)] {
            let int8 = quantize_file(&fp32, granularity).unwrap();
            assert_eq!(file_format(&int8).unwrap().as_deref(), Some(granularity.format()));
            let st = SafeTensors::deserialize(&int8).unwrap();
            assert_eq!(st.tensor("conv.weight").unwrap().dtype(), Dtype::I8);
            assert_eq!(st.tensor("conv.weight.__scale").unwrap().shape(), &[scales]);
            let back = dequantize_file(&int8).unwrap();
            let back = SafeTensors::deserialize(&back).unwrap();
            let back = f32s(back.tensor("conv.weight").unwrap().data());
            let step = if scales == 1 { 100.0 / 127.0 } else { 1.0 / 127.0 };
            assert!(w[50..].iter().zip(&back[50..]).all(|(a, b)| (a - b).abs() <= step / 2.0 * 1.001), "{granularity:?}");
        }
        let mut meta = HashMap::new();
        meta.insert(FORMAT_KEY.to_string(), "rewardedit-int8-v9".to_string());
        let future = serialize(&[("x".into(), Dtype::F32, vec![1], le_bytes(&[1.0]))], Some(meta)).unwrap();
        assert!(dequantize_file(&future).unwrap_err().to_string().contains("v9"));
        let nan = file_of("w", vec![2, 2], &[1.0, f32::NAN, 0.0, 2.0]);
        assert!(quantize_file(&nan, Granularity::PerChannel).unwrap_err().to_string().contains("non-finite"));
    }

    #[test]
    fn scales_must_be_one_or_one_per_row() {
        assert!(scale_mismatch(&[4, 3], Some(&[1])).is_none());
        assert!(scale_mismatch(&[4, 3], Some(&[4])).is_none());
        assert!(scale_mismatch(&[4, 3], Some(&[3])).is_some());
        assert!(scale_mismatch(&[4, 3], None).is_some());
    }
}
