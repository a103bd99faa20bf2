//! Reading the golden fixtures of scripts/make_golden.py.
#![allow(dead_code)]

use std::path::PathBuf;

use std::collections::HashMap;

use burn::prelude::*;
use rewardedit_models::ModelError;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

pub fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

pub struct Golden {
    bytes: Vec<u8>,
}

impl Golden {
    pub fn open(name: &str) -> Self {
        let path = golden(name);
        Self { bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/make_golden.py)", path.display())) }
    }

    pub fn names(&self) -> Vec<String> {
        SafeTensors::deserialize(&self.bytes).unwrap().names().into_iter().map(String::from).collect()
    }

    /// A tensor as f64 values with its shape (fixtures hold f32 or f64).
    pub fn values(&self, name: &str) -> (Vec<f64>, Vec<usize>) {
        let st = SafeTensors::deserialize(&self.bytes).unwrap();
        let view = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let data = view.data();
        let values = match view.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            Dtype::F64 => data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
            other => panic!("{name}: unexpected dtype {other:?}"),
        };
        (values, view.shape().to_vec())
    }

    pub fn vec(&self, name: &str) -> Vec<f64> {
        self.values(name).0
    }

    pub fn tensor<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        let (v, shape) = self.values(name);
        let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    /// Slice `i` along the first axis of a stacked tensor.
    pub fn item<const D: usize>(&self, name: &str, i: usize, device: &Device) -> Tensor<D> {
        let (v, shape) = self.values(name);
        let inner: usize = shape[1..].iter().product();
        let v: Vec<f32> = v[i * inner..(i + 1) * inner].iter().map(|&x| x as f32).collect();
        Tensor::from_data(TensorData::new(v, shape[1..].to_vec()), device)
    }
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap().into_iter().map(|x| x as f64).collect()
}

/// Largest absolute difference; panics naming `what` if above `tol` or the lengths differ.
pub fn assert_close(what: &str, ours: &[f64], reference: &[f64], tol: f64) -> f64 {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let max = ours.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(max <= tol, "{what}: max abs difference {max:e} > {tol:e}");
    eprintln!("{what}: max abs difference {max:.2e}");
    max
}

/// A safetensors file's tensors by name: (dtype, shape, bytes).
pub type TensorMap = HashMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

/// The tensors of the safetensors file at `path`, edited by `edit`, serialised again.
pub fn edited(path: &std::path::Path, edit: impl FnOnce(&mut TensorMap)) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut map: TensorMap = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, (view.dtype(), view.shape().to_vec(), view.data().to_vec())))
        .collect();
    edit(&mut map);
    let views: Vec<(String, TensorView)> = map
        .iter()
        .map(|(name, (dtype, shape, data))| (name.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// Renames every tensor of `map` with `rename` (None: keep the name).
pub fn rename_keys(map: &mut TensorMap, rename: impl Fn(&str) -> Option<String>) {
    let old: Vec<String> = map.keys().cloned().collect();
    for key in old {
        if let Some(new) = rename(&key) {
            let v = map.remove(&key).unwrap();
            map.insert(new, v);
        }
    }
}

/// Asserts that `result` failed with a weight mismatch whose message contains `needle`.
pub fn expect_mismatch<T: std::fmt::Debug>(result: Result<T, ModelError>, needle: &str) {
    let err = result.expect_err("load must fail");
    assert!(matches!(err, ModelError::WeightMismatch { .. }), "{err}");
    assert!(err.to_string().contains(needle), "error should name {needle}: {err}");
}

/// A fresh temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("rewardedit-models-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    /// Copies `from` to `rel` inside the folder (creating parents).
    pub fn copy(&self, from: &std::path::Path, rel: &str) {
        let to = self.0.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, &to).unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
    }

    /// Writes `bytes` to `rel` inside the folder (creating parents).
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let to = self.0.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, bytes).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
