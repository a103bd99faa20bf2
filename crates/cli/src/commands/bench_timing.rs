//! What `bench-unet` and `bench-edit` share: the device at a chosen precision, and timing a call
//! after warm-up (the first call apart: it pays for kernel compilation and autotuning).

use anyhow::Result;
use burn::tensor::{Device, DeviceConfig, FloatDType};
use clap::ValueEnum;

use crate::backend::{self, BackendKind};

#[derive(Clone, Copy, ValueEnum)]
pub enum Precision {
    F32,
    F16,
    Bf16,
}

impl Precision {
    pub fn float_dtype(self) -> FloatDType {
        match self {
            Precision::F32 => FloatDType::F32,
            Precision::F16 => FloatDType::F16,
            Precision::Bf16 => FloatDType::BF16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        }
    }
}

/// The device of `kind` with `precision` as its float type, set before any tensor exists.
pub fn device_at(kind: BackendKind, gpu: usize, precision: Precision) -> Result<Device> {
    let mut device = backend::device(kind, gpu)?;
    let dtype = precision.float_dtype();
    device
        .configure(DeviceConfig::default().float_dtype(dtype))
        .map_err(|e| anyhow::anyhow!("cannot use {dtype:?} on this device: {e:?}"))?;
    Ok(device)
}

/// Seconds: the first call, then the median and minimum of the timed ones.
pub struct Timings {
    pub first: f64,
    pub median: f64,
    pub min: f64,
    pub timed: usize,
}

/// Runs `call` (which returns its own wall time, read back from the device) once, then
/// `warmup - 1` more untimed, then `iters` timed.
pub fn measure(warmup: usize, iters: usize, call: impl Fn() -> Result<f64>) -> Result<Timings> {
    let first = call()?;
    for _ in 1..warmup {
        call()?;
    }
    let mut times: Vec<f64> = (0..iters).map(|_| call()).collect::<Result<_>>()?;
    times.sort_by(f64::total_cmp);
    Ok(Timings { first, median: times[times.len() / 2], min: times[0], timed: times.len() })
}
