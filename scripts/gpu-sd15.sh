#!/usr/bin/env bash
# SD 1.5-size training and distillation on a lent GPU, with random weights (issue 4 section 3,
# issue 7 section 2): shows that the latent-space recipes run at full size and times them.
# Run ON the GPU machine from the repository root, after scripts/build-cuda.sh (as
# scripts/gpu-check.sh):
#   run(command="bash scripts/gpu-sd15.sh", carry=["target/cuda/rewardedit.gz"], timeout_s=540)
#
# 1. `model init --preset sd15 --no-reward`: a random InstructPix2Pix-size folder (UNet, CLIP
#    ViT-L/14, VAE; the golden tiny CLIP tokenizer, whose ids all exist in the real vocabulary).
# 2. Stage 1 (no rewards) and stage 2 (reward modules attached) from it, as
#    recipes/sd15-reward-stage2.toml but on world triplets at RES px, batch BATCH, STEPS steps:
#    samples/s of each (metrics.jsonl) — the reward modules' cost is their ratio.
# 3. `distill-editor` of the stage-2 editor as recipes/sd15-student.toml (layers_per_block 1),
#    DSTEPS compression steps and one progressive round.
# Everything lands in $OUT (the device tool's output folder) or target/gpu-sd15; each command runs
# under `timeout`. For a dry run of the logic on the CPU with the tiny golden folder:
#   BIN=target/release/rewardedit BACKEND=flex INIT=tests/golden/ip2p_tiny RES=32 bash scripts/gpu-sd15.sh
set -uo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/cuda/release/rewardedit}
BACKEND=${BACKEND:-cuda}
CUDA_LIB=${CUDA_LIB:-/usr/local/cuda/lib64}
RES=${RES:-256}
BATCH=${BATCH:-8}
STEPS=${STEPS:-20}
DSTEPS=${DSTEPS:-10}
T=${CMD_TIMEOUT:-240}
LOG_DIR=${OUT:-target/gpu-sd15}
WORK=${WORK:-/tmp/rewardedit-gpu-sd15}
mkdir -p "$LOG_DIR"
rm -rf "$WORK" && mkdir -p "$WORK"
export LD_LIBRARY_PATH="$CUDA_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
source scripts/gpu-lib.sh
unpack_bin

INIT=${INIT:-}
if [ -z "$INIT" ]; then
    INIT=$WORK/ip2p-random
    run init "$BIN" --backend "$BACKEND" model init --preset sd15 --tokenizer tests/golden/ip2p_tiny/tokenizer --no-reward --out "$INIT" || exit 1
fi

# recipe STAGE: the sd15-reward-stage2 settings on world data, from $INIT.
recipe() {
    cat <<EOF
stage = "$1"
[model]
space = "latent"
resolution = $RES
[model.text]
kind = "clip"
[model.reward]
zero_init = false
null_dropout = 0.0
[init]
from = "editor"
path = "$(realpath "$INIT")"
[data]
kind = "world"
seed = 1
n = 512
[data.world]
size = 64
[optim]
steps = $STEPS
batch_size = $BATCH
lr = 5e-5
schedule = "constant"
warmup_steps = 0
min_lr_fraction = 1.0
ema_decay = 0.9999
[run]
log_every = 1
checkpoint_every = 100000
keep_checkpoints = 2
EOF
}
recipe instruct >"$WORK/stage1.toml"
recipe reward >"$WORK/stage2.toml"
run stage1 "$BIN" --backend "$BACKEND" train --recipe "$WORK/stage1.toml" --out "$WORK/stage1"
cp "$WORK/stage1/metrics.jsonl" "$LOG_DIR/stage1-metrics.jsonl" 2>/dev/null
# A run's last checkpoint holds the UNet, its EMA and AdamW's moments (~14 GB at SD size): free
# the disk (64 GB) once the metrics are out.
rm -rf "$WORK/stage1"
run stage2 "$BIN" --backend "$BACKEND" train --recipe "$WORK/stage2.toml" --out "$WORK/stage2"
cp "$WORK/stage2/metrics.jsonl" "$LOG_DIR/stage2-metrics.jsonl" 2>/dev/null
rm -rf "$WORK/stage2/checkpoints"

if [ -d "$WORK/stage2/editor" ]; then
    sed -e "s|^teacher = .*|teacher = \"$WORK/stage2/editor\"|" -e "s|^resolution = .*|resolution = $RES|" \
        -e "/^\[compress\]/,/^\[/ s|^steps = .*|steps = $DSTEPS|" -e "/^\[progressive\]/,/^\[/ s|^rounds = .*|rounds = 1|" \
        -e "/^\[progressive\]/,/^\[/ s|^steps = .*|steps = $DSTEPS|" -e "s|^teacher_steps = .*|teacher_steps = 8|" \
        -e "/^\[data\]/,/^\[optim\]/c\\[data]\nkind = \"world\"\nseed = 1\nn = 512\n[data.world]\nsize = 64\n[optim]" \
        -e "s|^batch_size = .*|batch_size = $BATCH|" -e "s|^grad_accum = .*|grad_accum = 1|" \
        -e "s|^checkpoint_every = .*|checkpoint_every = 100000|" -e "s|^validate_every = .*|validate_every = 0|" -e "s|^log_every = .*|log_every = 1|" \
        recipes/sd15-student.toml >"$WORK/student.toml"
    run student "$BIN" --backend "$BACKEND" distill-editor --recipe "$WORK/student.toml" --out "$WORK/student"
    cp "$WORK/student/compress/metrics.jsonl" "$LOG_DIR/student-compress-metrics.jsonl" 2>/dev/null
fi

# Steady-state samples/s: the mean over each run's steps after the first two (warm-up, kernel
# compilation).
for m in "$LOG_DIR"/*-metrics.jsonl; do
    [ -f "$m" ] || continue
    awk -v f="${m##*/}" '
        { match($0, /"step":[0-9]+/); step = substr($0, RSTART + 7, RLENGTH - 7)
          match($0, /"samples_per_s":[0-9.eE+-]+/); sps = substr($0, RSTART + 16, RLENGTH - 16)
          match($0, /"loss":[0-9.eE+-]+/); loss = substr($0, RSTART + 7, RLENGTH - 7)
          n++; if (step > 2 && sps > 0) { sum += sps; k++ } }
        END { printf "%s: %d steps, steady %.2f samples/s, last loss %s\n", f, n, (k ? sum / k : 0), loss }' "$m" | tee -a "$LOG_DIR/summary.log"
done
echo "=== overall: $([ $status = 0 ] && echo OK || echo FAILED) (logs in $LOG_DIR)" | tee -a "$LOG_DIR/summary.log"
exit $status
