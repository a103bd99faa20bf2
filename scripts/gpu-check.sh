#!/usr/bin/env bash
# Run ON the GPU machine, from the repository root, after scripts/build-cuda.sh has produced
# target/cuda/release/rewardedit and target/cuda/rewardedit.gz here, and the .gz was carried
# over (the binary itself, ~72 MB, exceeds the 64 MiB carry limit):
#   run(command="bash scripts/gpu-check.sh", carry=["target/cuda/rewardedit.gz"], timeout_s=300)
# Prints nvidia-smi and the CUDA backend info; every command has a timeout. Logs go to "$OUT"
# when it is set (the device tool's output folder), else to target/cuda/gpu-check.
#
#   bash scripts/gpu-check.sh            # env: CMD_TIMEOUT (s, default 120), CUDA_LIB, BENCH
#
# With BENCH=1 (the default) it then times the editor's UNet forward (`rewardedit bench-unet`,
# random weights): a tiny config first (does anything run?), then SD 1.5 InstructPix2Pix size
# (batch 3 = the guidance branches, 64x64 latent = 512 px) in f16 and f32, reward on and off.
set -uo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/cuda/release/rewardedit}
CUDA_LIB=${CUDA_LIB:-/usr/local/cuda/lib64}
T=${CMD_TIMEOUT:-120}
LOG_DIR=${OUT:-target/cuda/gpu-check}
mkdir -p "$LOG_DIR"
source scripts/gpu-lib.sh

run nvidia-smi nvidia-smi
run cuda-libs bash -c "ls -l $CUDA_LIB/libcuda.so* $CUDA_LIB/libnvrtc.so* /usr/lib/x86_64-linux-gnu/libcuda.so* 2>&1; true"
unpack_bin
run ldd ldd "$BIN"
run info-flex "$BIN" info --backend flex
export LD_LIBRARY_PATH="$CUDA_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Full backtrace if anything in cudarc/cubecl panics (e.g. a missing driver symbol).
RUST_BACKTRACE=${RUST_BACKTRACE:-1} run info-cuda "$BIN" info --backend cuda

if [ "${BENCH:-1}" = 1 ]; then
    run unet-tiny "$BIN" bench-unet --backend cuda --config tests/golden/unet_tiny_config.json --latent 16 --iters 20
    run unet-sd15-f16 "$BIN" bench-unet --backend cuda --dtype f16 --iters 10
    run unet-sd15-f16-reward "$BIN" bench-unet --backend cuda --dtype f16 --reward --iters 10
    run unet-sd15-f32 "$BIN" bench-unet --backend cuda --iters 5
fi

echo "=== overall: $([ $status = 0 ] && echo OK || echo FAILED) (logs in $LOG_DIR)" | tee "$LOG_DIR/summary.log"
exit $status
