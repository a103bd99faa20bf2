#!/usr/bin/env bash
# Train a student scorer (`rewardedit distill-scorer`) on a lent GPU and bring the result back.
# The long runs the scorer needs (a wide network on >= 150,000 world edits for 20,000+ steps,
# checkpoints/PROVENANCE.md) take hours on this 2-core CPU and minutes on an H100.
#
# Three subcommands:
#   bash scripts/gpu-scorer-train.sh pack RECIPE
#       here: copies RECIPE into target/gpu-scorer/recipe.toml, with each [[extra_data]] manifest
#       folder copied under target/gpu-scorer/extra/ and its path rewritten to the copy (world
#       data is generated on the machine from its seed; the editor outputs are ~25 MB).
#   bash scripts/gpu-scorer-train.sh train
#       on the GPU machine: runs (or, if an earlier call left a run there, resumes)
#       target/gpu-scorer/recipe.toml with `--backend cuda` for SECS seconds (default 480), then
#       copies the run's metrics.jsonl, recipe.toml, checkpoint/ and, if it finished, student/
#       and agreement.json into $OUT:
#       run(command="bash scripts/gpu-scorer-train.sh train",
#           carry=["target/cuda/rewardedit.gz", "target/gpu-scorer"], timeout_s=560)
#   bash scripts/gpu-scorer-train.sh unpack FROM RUN
#       here: FROM is the folder the device tool fetched $OUT to (files_at); copies it into RUN.
#       A run that did not finish continues here with
#       `rewardedit distill-scorer --recipe RUN/recipe.toml --out RUN --resume` (once the copied
#       extra data is where the recipe says: keep target/gpu-scorer until then).
#
# A dry run of the whole cycle on the CPU (Flex instead of CUDA):
#   bash scripts/gpu-scorer-train.sh pack RECIPE && BIN=target/release/rewardedit BACKEND=flex \
#     SECS=60 OUT=/tmp/gs-out bash scripts/gpu-scorer-train.sh train &&
#     bash scripts/gpu-scorer-train.sh unpack /tmp/gs-out /tmp/gs-run
set -uo pipefail

CALLER=$PWD
cd "$(dirname "$0")/.."
CARRY=target/gpu-scorer
# A path as the caller meant it (relative to where the script was called from).
from_caller() { case "$1" in /*) echo "$1" ;; *) echo "$CALLER/$1" ;; esac; }

case "${1:-}" in
pack)
    RECIPE=$(from_caller "${2:?usage: gpu-scorer-train.sh pack RECIPE}")
    [ -f "$RECIPE" ] || { echo "error: no recipe at $RECIPE" >&2; exit 2; }
    rm -rf "$CARRY" && mkdir -p "$CARRY/extra"
    cp "$RECIPE" "$CARRY/recipe.toml" || exit 1
    # Each `path = "..."` inside an [[extra_data]] table: copy the manifest folder, point at the copy.
    i=0
    in_extra=0
    declare -A packed=()
    while IFS= read -r line; do
        case "$line" in
        "[[extra_data]]"*) in_extra=1 ;;
        "["*) in_extra=0 ;;
        esac
        if [ $in_extra = 1 ] && [[ "$line" =~ ^path\ *=\ *\"(.*)\" ]]; then
            name=${BASH_REMATCH[1]}
            # A folder listed several times (to weigh it up) is copied once: the first rewrite
            # below already points every line naming it at that copy.
            [ -n "${packed[$name]:-}" ] && continue
            packed[$name]=1
            src=$(from_caller "$name")
            [ -e "$src" ] || { echo "error: $RECIPE names extra data $name, not found from $CALLER (call the script from the folder the recipe's paths are relative to)" >&2; exit 2; }
            dst=$CARRY/extra/$i
            if [ -d "$src" ]; then cp -r "$src" "$dst"; else mkdir -p "$dst" && cp "$src" "$dst/"; fi || exit 1
            rm -rf "$dst/report" "$dst/report.html" "$dst/report.md"
            sed -i "s|^path *= *\"$name\"|path = \"$dst\"|" "$CARRY/recipe.toml"
            i=$((i + 1))
        fi
    done <"$RECIPE"
    echo "packed $RECIPE with $i extra data folder(s) ($(du -sh "$CARRY" | cut -f1)) into $CARRY: carry target/gpu-scorer with target/cuda/rewardedit.gz"
    ;;
train)
    source scripts/gpu-lib.sh
    carried_run_setup 480 target/gpu-scorer/out
    [ -f "$CARRY/recipe.toml" ] || { echo "error: nothing carried in $CARRY: run 'pack RECIPE' here first" | tee -a "$LOG_DIR/summary.log"; exit 2; }
    RESUME=()
    [ -d "$CARRY/run/checkpoint" ] && RESUME=(--resume)
    run distill "$BIN" --backend "$BACKEND" distill-scorer --recipe "$CARRY/recipe.toml" --out "$CARRY/run" "${RESUME[@]}"
    [ "$status" = 1 ] && grep -q "TIMED OUT" "$LOG_DIR/distill.log" && status=0
    for f in metrics.jsonl recipe.toml checkpoint student agreement.json; do
        [ -e "$CARRY/run/$f" ] && cp -r "$CARRY/run/$f" "$LOG_DIR/"
    done
    echo "last metrics: $(tail -n 1 "$CARRY/run/metrics.jsonl" 2>/dev/null)" | tee -a "$LOG_DIR/summary.log"
    echo "=== overall: $([ $status = 0 ] && echo OK || echo FAILED)$([ -f "$CARRY/run/agreement.json" ] && echo ", finished" || echo ", not finished: resume") (logs in $LOG_DIR)" |
        tee -a "$LOG_DIR/summary.log"
    exit $status
    ;;
unpack)
    FROM=$(from_caller "${2:?usage: gpu-scorer-train.sh unpack FROM RUN}")
    RUN=$(from_caller "${3:?usage: gpu-scorer-train.sh unpack FROM RUN}")
    [ -f "$FROM/metrics.jsonl" ] && [ -d "$FROM/checkpoint" ] || { echo "error: no metrics.jsonl and checkpoint/ in $FROM" >&2; exit 2; }
    mkdir -p "$RUN" && cp -r "$FROM"/. "$RUN/" && chmod -R u+w "$RUN" || exit 1
    if [ -f "$RUN/agreement.json" ]; then
        echo "$RUN holds the finished student ($RUN/student) and its held-out agreement"
    else
        echo "$RUN stops at step $(tail -n 1 "$RUN/metrics.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/'): continue with --resume"
    fi
    ;;
*)
    sed -n '2,28p' "$0"
    exit 2
    ;;
esac
