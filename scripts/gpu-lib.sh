# Shared by the scripts that run on the GPU machine (gpu-check.sh, gpu-sd15.sh, gpu-*-train.sh);
# source it after setting BIN, T (seconds per command) and LOG_DIR, or call carried_run_setup.
# Sets `status` to 1 when any command fails.
status=0

# run NAME CMD...: runs CMD under `timeout`, tees stdout+stderr into $LOG_DIR/NAME.log; returns
# CMD's exit code.
run() {
    local name=$1
    shift
    echo "=== $name: $*" | tee "$LOG_DIR/$name.log"
    local t0=$SECONDS rc
    timeout -k 10 "$T" "$@" 2>&1 | tee -a "$LOG_DIR/$name.log"
    rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc in $((SECONDS - t0)) s$([ "$rc" = 124 ] && echo " (TIMED OUT after ${T} s)")" |
        tee -a "$LOG_DIR/$name.log"
    [ "$rc" = 0 ] || status=1
    return "$rc"
}

# unpack_bin: unpacks the carried target/cuda/rewardedit.gz into $BIN when the binary is missing
# or older (build outputs persist on the machine), then insists that $BIN is there.
unpack_bin() {
    if [ "$BIN" = target/cuda/release/rewardedit ] && [ -f target/cuda/rewardedit.gz ] &&
        { [ ! -x "$BIN" ] || [ target/cuda/rewardedit.gz -nt "$BIN" ]; }; then
        mkdir -p "$(dirname "$BIN")"
        gzip -dc target/cuda/rewardedit.gz >"$BIN" && chmod +x "$BIN"
    fi
    if [ ! -x "$BIN" ]; then
        echo "error: $BIN missing: build it with scripts/build-cuda.sh and carry it" | tee -a "$LOG_DIR/summary.log"
        exit 1
    fi
}

# carried_run_setup DEFAULT_SECS DEFAULT_OUT: the settings a carried training run uses on the GPU
# machine (BIN, BACKEND, CUDA_LIB, SECS and OUT may be set by the caller), then unpack_bin.
carried_run_setup() {
    BIN=${BIN:-target/cuda/release/rewardedit}
    BACKEND=${BACKEND:-cuda}
    CUDA_LIB=${CUDA_LIB:-/usr/local/cuda/lib64}
    SECS=${SECS:-$1}
    T=$SECS
    LOG_DIR=${OUT:-$2}
    mkdir -p "$LOG_DIR"
    export LD_LIBRARY_PATH="$CUDA_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    unpack_bin
}
