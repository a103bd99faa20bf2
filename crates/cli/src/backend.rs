//! Picks the burn device once, at the edge (architecture.md rule 2). Flex is the CPU default;
//! NdArray (deprecated upstream, far too slow to train), CUDA and LibTorch are cargo features.

use anyhow::Result;
use burn::tensor::Device;
use clap::ValueEnum;

use crate::exit::bad_input;

/// Which burn backend runs the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// burn Flex: pure-Rust CPU backend (the default).
    Flex,
    /// burn NdArray: CPU; build with `--features ndarray`.
    Ndarray,
    /// burn CUDA: NVIDIA GPU; build with `--features cuda`.
    Cuda,
    /// LibTorch on the CPU (PyTorch's kernels); build with `--features tch`.
    Libtorch,
    /// LibTorch on an NVIDIA GPU (PyTorch's cuDNN/cuBLAS kernels); build with `--features tch`
    /// against a CUDA build of PyTorch.
    LibtorchCuda,
}

impl BackendKind {
    /// Backends compiled into this binary.
    pub fn compiled() -> Vec<BackendKind> {
        let mut v = vec![BackendKind::Flex];
        if cfg!(feature = "ndarray") {
            v.push(BackendKind::Ndarray);
        }
        if cfg!(feature = "cuda") {
            v.push(BackendKind::Cuda);
        }
        if cfg!(feature = "tch") {
            v.extend([BackendKind::Libtorch, BackendKind::LibtorchCuda]);
        }
        v
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Cuda => "cuda",
            BackendKind::Libtorch => "libtorch",
            BackendKind::LibtorchCuda => "libtorch-cuda",
        }
    }
}

/// Makes `kind` burn's default device for this process (the `BURN_DEVICE` variable), unless the
/// user set one. burn materialises some state on `Device::default()` (an optimiser's moments on
/// `--resume`), which in a binary with CUDA compiled in is the GPU even under `--backend flex`:
/// on a machine without one that panics. Call before any thread starts.
pub fn pin_default(kind: BackendKind) {
    if std::env::var_os("BURN_DEVICE").is_some() {
        return;
    }
    let name = match kind {
        BackendKind::Flex => "flex",
        BackendKind::Ndarray => "ndarray",
        BackendKind::Cuda => "cuda",
        // burn names LibTorch's CPU device only; state moves to the parameters' GPU at the next step.
        BackendKind::Libtorch | BackendKind::LibtorchCuda => "tch",
    };
    // SAFETY: called from `main` before any other thread exists, so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("BURN_DEVICE", name) };
}

/// The device for `kind` (`gpu` is the CUDA device index), or a bad-input error saying how to
/// build a binary that has it.
pub fn device(kind: BackendKind, gpu: usize) -> Result<Device> {
    match kind {
        BackendKind::Flex => Ok(Device::flex()),
        BackendKind::Ndarray => ndarray_device(),
        BackendKind::Cuda => cuda_device(gpu),
        BackendKind::Libtorch => libtorch_device(None),
        BackendKind::LibtorchCuda => libtorch_device(Some(gpu)),
    }
}

#[cfg(feature = "tch")]
fn libtorch_device(gpu: Option<usize>) -> Result<Device> {
    #[allow(deprecated)] // burn-tch is deprecated upstream, and still the fastest path on a GPU here
    Ok(match gpu {
        None => Device::libtorch(),
        Some(index) => {
            // A CPU-only libtorch would panic deep inside the first CUDA op: say it up front.
            anyhow::ensure!(
                tch::Cuda::is_available(),
                "LibTorch sees no CUDA device: put a CUDA build of PyTorch's lib folder on LD_LIBRARY_PATH (and the NVIDIA driver), or use `--backend libtorch`"
            );
            Device::libtorch_cuda(index)
        }
    })
}

#[cfg(not(feature = "tch"))]
fn libtorch_device(_gpu: Option<usize>) -> Result<Device> {
    Err(bad_input(
        "this binary was built without LibTorch: rebuild with `--features tch` (scripts/build-cuda.sh with TCH=1), or use `--backend flex`",
    ))
}

#[cfg(feature = "ndarray")]
fn ndarray_device() -> Result<Device> {
    #[allow(deprecated)] // selectable on request; Flex is the recommended CPU backend
    Ok(Device::ndarray())
}

#[cfg(not(feature = "ndarray"))]
fn ndarray_device() -> Result<Device> {
    Err(bad_input(
        "this binary was built without the NdArray backend: rebuild with `--features ndarray`, or use `--backend flex`",
    ))
}

#[cfg(feature = "cuda")]
fn cuda_device(gpu: usize) -> Result<Device> {
    // cudarc panics (on a worker thread, then again on ours) when the driver library is missing;
    // look for it first so the user gets an error that says what to do, not two backtraces.
    // SAFETY: loading libcuda runs only its own initialisers; the handle is dropped at once.
    let found = ["libcuda.so.1", "libcuda.so"].iter().any(|name| unsafe { libloading::Library::new(name) }.is_ok());
    anyhow::ensure!(
        found,
        "the NVIDIA driver library (libcuda.so) was not found: install the NVIDIA driver, or add its folder to LD_LIBRARY_PATH (e.g. /usr/local/cuda/lib64); or use `--backend flex`"
    );
    Ok(Device::cuda(gpu))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_gpu: usize) -> Result<Device> {
    Err(bad_input(
        "this binary was built without CUDA: rebuild with `--features cuda` (scripts/build-cuda.sh), or use `--backend flex`",
    ))
}
