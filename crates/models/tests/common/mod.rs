//! Reading the golden fixtures of scripts/make_golden.py.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::prelude::*;
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
    max
}
