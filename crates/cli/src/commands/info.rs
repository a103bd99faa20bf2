//! `rewardedit info`: version, compiled backends, and a check that the chosen device computes.

use anyhow::{Context, Result};
use burn::tensor::{Tensor, TensorData};

use crate::backend::{self, BackendKind};

pub fn run(kind: BackendKind, gpu: usize) -> Result<()> {
    println!("rewardedit {}", env!("CARGO_PKG_VERSION"));
    let compiled: Vec<_> = BackendKind::compiled().into_iter().map(BackendKind::name).collect();
    println!("backends compiled in: {}", compiled.join(", "));
    let device = backend::device(kind, gpu)?;
    // A 2x2 matmul with a known answer proves the device runs kernels, not just that it exists.
    let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), &device);
    let got: Vec<f32> = a.clone().matmul(a).into_data().try_to_vec().context("reading the result back")?;
    anyhow::ensure!(got == [7.0, 10.0, 15.0, 22.0], "device {kind:?} computed a wrong matmul: {got:?}");
    println!("device: {} ({device:?}) ok", kind.name());
    Ok(())
}
