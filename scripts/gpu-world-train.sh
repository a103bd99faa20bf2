#!/usr/bin/env bash
# Continue a world training run (`rewardedit train` or a `distill-editor` phase) on a lent GPU for
# a fixed time, then bring its newest checkpoint back here, where `--resume` goes on from it.
# The world editors learn slowly on this 2-core CPU (~0.6 steps/s for the 1.8M-parameter
# teacher); this turns a few minutes of device time into training steps.
#
# Three subcommands:
#   bash scripts/gpu-world-train.sh pack RUN
#       here: copies RUN's recipe.toml, metrics.jsonl and newest intact checkpoint into
#       target/gpu-world/run/ (git-ignored; ~30 MB for the world teacher) for carrying.
#   bash scripts/gpu-world-train.sh train
#       on the GPU machine: resumes target/gpu-world/run with `--backend cuda` for SECS seconds
#       (default 420), then copies its newest checkpoint and metrics.jsonl into $OUT:
#       run(command="bash scripts/gpu-world-train.sh train",
#           carry=["target/cuda/rewardedit.gz", "target/gpu-world"], timeout_s=540)
#   bash scripts/gpu-world-train.sh unpack FROM RUN
#       here: FROM is the folder the device tool fetched $OUT to (files_at); puts the checkpoint
#       into RUN/checkpoints/ and takes its metrics.jsonl. Then continue with
#       `rewardedit train --recipe RUN/recipe.toml --out RUN --resume` (the recipe is the run's
#       own, so the resume check passes).
#
# The recipe is not changed (batch, checkpoint interval, seeds): the steps done on the GPU are
# the steps the CPU would have done, up to floating-point differences between the backends.
# A dry run of the whole cycle on the CPU (Flex instead of CUDA, 60 s):
#   bash scripts/gpu-world-train.sh pack RUN && BIN=target/release/rewardedit BACKEND=flex SECS=60 \
#     OUT=/tmp/gw-out bash scripts/gpu-world-train.sh train && bash scripts/gpu-world-train.sh unpack /tmp/gw-out RUN
set -uo pipefail

cd "$(dirname "$0")/.."
CARRY=target/gpu-world/run

newest_checkpoint() { # RUN: the newest checkpoint folder with a manifest
    ls -d "$1"/checkpoints/step-* 2>/dev/null | sort | while read -r d; do
        [ -f "$d/MANIFEST.json" ] && echo "$d"
    done | tail -n 1
}

case "${1:-}" in
pack)
    RUN=${2:?usage: gpu-world-train.sh pack RUN}
    CKPT=$(newest_checkpoint "$RUN")
    [ -n "$CKPT" ] || { echo "error: $RUN has no checkpoint to carry" >&2; exit 2; }
    rm -rf "$CARRY" && mkdir -p "$CARRY/checkpoints"
    cp "$RUN/recipe.toml" "$RUN/metrics.jsonl" "$CARRY/" || exit 1
    cp -r "$CKPT" "$CARRY/checkpoints/" || exit 1
    echo "packed $CKPT ($(du -sh "$CARRY" | cut -f1)) into $CARRY: carry target/gpu-world with target/cuda/rewardedit.gz"
    ;;
train)
    source scripts/gpu-lib.sh
    carried_run_setup 420 target/gpu-world/out
    [ -n "$(newest_checkpoint "$CARRY")" ] || { echo "error: nothing carried in $CARRY: run 'pack RUN' here first" | tee -a "$LOG_DIR/summary.log"; exit 2; }
    first=$(tail -n 1 "$CARRY/metrics.jsonl")
    # The run stops at the time limit (timeout's TERM); the checkpoint written last is intact:
    # checkpoints are renamed into place only when complete.
    run train "$BIN" --backend "$BACKEND" train --recipe "$CARRY/recipe.toml" --out "$CARRY" --resume
    [ "$status" = 1 ] && grep -q "TIMED OUT" "$LOG_DIR/train.log" && status=0
    CKPT=$(newest_checkpoint "$CARRY")
    cp -r "$CKPT" "$LOG_DIR/" && cp "$CARRY/metrics.jsonl" "$LOG_DIR/"
    echo "carried from: $first" | tee -a "$LOG_DIR/summary.log"
    echo "brought back: $CKPT; last metrics: $(tail -n 1 "$CARRY/metrics.jsonl")" | tee -a "$LOG_DIR/summary.log"
    echo "=== overall: $([ $status = 0 ] && echo OK || echo FAILED) (logs in $LOG_DIR)" | tee -a "$LOG_DIR/summary.log"
    exit $status
    ;;
unpack)
    FROM=${2:?usage: gpu-world-train.sh unpack FROM RUN}
    RUN=${3:?usage: gpu-world-train.sh unpack FROM RUN}
    CKPT=$(ls -d "$FROM"/step-* 2>/dev/null | sort | tail -n 1)
    [ -n "$CKPT" ] && [ -f "$FROM/metrics.jsonl" ] || { echo "error: no checkpoint and metrics.jsonl in $FROM" >&2; exit 2; }
    [ -d "$RUN/checkpoints" ] || { echo "error: $RUN is not a run folder" >&2; exit 2; }
    cp -r "$CKPT" "$RUN/checkpoints/" && cp "$FROM/metrics.jsonl" "$RUN/metrics.jsonl" || exit 1
    chmod -R u+w "$RUN/checkpoints/${CKPT##*/}" "$RUN/metrics.jsonl"
    echo "$RUN now ends at ${CKPT##*/}: continue with --resume"
    ;;
*)
    sed -n '2,25p' "$0"
    exit 2
    ;;
esac
