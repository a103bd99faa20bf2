#!/usr/bin/env bash
# Every SD 1.5-size GPU measurement the issues ask for, in one device call (a session gets 15
# minutes of GPU time in all), ours and PyTorch's on the same card, then the student scorer's
# long run with whatever time is left:
#
#   1. the backends answer (`info`: burn-cuda, LibTorch on CUDA);
#   2. PyTorch/diffusers (scripts/bench_sd15_gpu.py): UNet forward fp16 batch 3 at 512 px, UNet
#      forward + backward fp32 at 256 px batch 8, a 512 px 30-step fp16 InstructPix2Pix edit, a
#      256 px batch 8 fp32 training step; a 3x3 convolution's weight gradient on the UNet's
#      shapes, PyTorch's kernel against the generic formula burn-tch falls back to;
#   3. ours on LibTorch-CUDA (PyTorch's kernels under our models): the same UNet forward, reward
#      modules off and on, and the same forward + backward; `model init --preset sd15` and
#      `bench-edit --stages` (512 px, 30 steps, fp16; its parts against the Python edit's `stages`);
#   4. ours on burn-cuda (cubecl kernels): the same UNet forward;
#   5. scripts/gpu-sd15.sh on LibTorch-CUDA: stage 1 and stage 2 training at 256 px batch 8
#      (the reward modules' cost) and the sd15-student distillation, as far as the time allows
#      (each stage ends by writing a ~14 GB checkpoint; for the student, run gpu-sd15.sh alone:
#      about 4 minutes);
#   6. scripts/gpu-scorer-train.sh train on LibTorch-CUDA (burn-cuda if LibTorch failed) until
#      the deadline, if `pack` left a recipe in target/gpu-scorer.
#
# Here first: TCH=1 LIBTORCH=... bash scripts/build-cuda.sh (see its header), the diffusers
# wheels in .whl/ (scripts/README.md), optionally gpu-scorer-train.sh pack RECIPE. Then:
#   tar czf target/gpu-scorer.tgz -C target gpu-scorer     (if packed)
#   run(command="bash scripts/gpu-bench.sh", carry=["target/cuda/rewardedit.gz", ".whl",
#       "target/gpu-scorer.tgz"], timeout_s=600)
# Everything is packed into $OUT/logs.tgz (+ $OUT/scorer.tgz), within the device tool's 8-file
# limit, before DEADLINE seconds (default 560); the table at the end is also in the reply.
set -uo pipefail

START=$SECONDS
cd "$(dirname "$0")/.."
DEADLINE=${DEADLINE:-560}
BIN=${BIN:-target/cuda/release/rewardedit}
CUDA_LIB=${CUDA_LIB:-/usr/local/cuda/lib64}
RESULT=${OUT:-target/gpu-bench}
WORK=/tmp/gpu-bench
LOG_DIR=$WORK/logs
rm -rf "$WORK" && mkdir -p "$LOG_DIR" "$RESULT"
T=60
source scripts/gpu-lib.sh
left() { echo $((DEADLINE - (SECONDS - START))); }
# limit SECS: T for the next command, never past the deadline (40 s kept for packing).
limit() { local l=$(($(left) - 40)); T=$(($1 < l ? $1 : l)); [ "$T" -gt 5 ]; }

pack() {
    tar czf "$RESULT/logs.tgz" -C "$WORK" logs 2>/dev/null
    if [ -d target/gpu-scorer/run/checkpoint ]; then
        tar czf "$RESULT/scorer.tgz" -C target/gpu-scorer/run . 2>/dev/null
    fi
    echo "=== summary ($((SECONDS - START)) s)"
    cat "$LOG_DIR"/torch.jsonl 2>/dev/null
    grep -h -E '^(device:|=== .*exit)' "$LOG_DIR"/*.log 2>/dev/null | grep -v 'exit 0 ' | head -40
    grep -h -E '^(unet |build |edit |load |stages )' "$LOG_DIR"/*.log 2>/dev/null
    cat "$LOG_DIR"/sd15/summary.log "$LOG_DIR"/scorer/summary.log 2>/dev/null
}
trap pack EXIT

# The scorer's packed run travels as one .tgz (thousands of small PNGs overrun the carry limit).
[ -f target/gpu-scorer.tgz ] && [ ! -d target/gpu-scorer ] && tar xzf target/gpu-scorer.tgz -C target
run nvidia-smi nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
unpack_bin
TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$CUDA_LIB:$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl &&
        export PYTHONPATH=/tmp/site
fi

run info-cuda "$BIN" --backend cuda info
FAST=cuda
limit 60 && run info-libtorch-cuda "$BIN" --backend libtorch-cuda info && FAST=libtorch-cuda
echo "fast backend: $FAST" | tee -a "$LOG_DIR/summary.log"

limit 150 && run torch python3 scripts/bench_sd15_gpu.py --parts unet,unet_fb,convgrad,edit,train --out "$LOG_DIR/torch.jsonl"

if [ "$FAST" = libtorch-cuda ]; then
    limit 60 && run unet-libtorch-f16 "$BIN" --backend libtorch-cuda bench-unet --dtype f16 --iters 20
    limit 60 && run unet-libtorch-f16-reward "$BIN" --backend libtorch-cuda bench-unet --dtype f16 --reward --iters 20
    # Again without: the first GPU work of a call runs on a card still clocking up (session 11:
    # reward off 37.2 ms first, reward on 28.8 ms second), so only a later pair compares.
    limit 60 && run unet-libtorch-f16-again "$BIN" --backend libtorch-cuda bench-unet --dtype f16 --iters 20
    # The UNet's share of a training step (fp32, 256 px batch 8), against the Python part's unet_fb:
    # tells the backward pass (burn's generic conv gradients on LibTorch) from the rest of a step.
    limit 60 && run unet-libtorch-fb "$BIN" --backend libtorch-cuda bench-unet --backward --batch 8 --latent 32 --iters 10
fi
SD=$WORK/sd15-random
limit 90 && run init "$BIN" --backend "$FAST" model init --preset sd15 --tokenizer tests/golden/ip2p_tiny/tokenizer \
    --no-reward --out "$SD"
if [ "$FAST" = libtorch-cuda ] && [ -d "$SD/unet" ]; then
    limit 120 && run edit-libtorch-f16 "$BIN" --backend libtorch-cuda bench-edit --model "$SD" --size 512 --steps 30 \
        --dtype f16 --iters 3 --stages --scheduler euler-a --text-cfg 7.5 --image-cfg 1.5
fi

limit 70 && run unet-cuda-f16 "$BIN" --backend cuda bench-unet --dtype f16 --iters 10

if [ "$FAST" = libtorch-cuda ] && [ -d "$SD/unet" ] && limit 240; then
    SD15_T=$T
    OUT=$LOG_DIR/sd15 WORK=$WORK/sd15 INIT=$SD BACKEND=libtorch-cuda STEPS=${STEPS:-12} DSTEPS=${DSTEPS:-6} \
        CMD_TIMEOUT=$((SD15_T / 3)) timeout -k 10 "$SD15_T" bash scripts/gpu-sd15.sh || status=1
fi
rm -rf "$WORK/sd15" "$SD"

if [ -f target/gpu-scorer/recipe.toml ] && limit 100000; then
    OUT=$LOG_DIR/scorer BACKEND=$FAST SECS=$T bash scripts/gpu-scorer-train.sh train || status=1
    rm -rf "$LOG_DIR/scorer/checkpoint" "$LOG_DIR/scorer/student"
fi
echo "=== overall: $([ $status = 0 ] && echo OK || echo 'FAILED (see the logs)')"
