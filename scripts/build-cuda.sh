#!/usr/bin/env bash
# Build `rewardedit` with the `cuda` feature, offline, on a machine with no GPU and no CUDA
# toolkit. Output: target/cuda/release/rewardedit (own target dir; the default CPU build in
# target/release is not touched).
#
# Run on the GPU machine as:
#   LD_LIBRARY_PATH=/usr/local/cuda/lib64 target/cuda/release/rewardedit info --backend cuda
# The binary links only libc/libm/libgcc_s/ld-linux; libcuda and libnvrtc are dlopen'ed at run
# time (cudarc dynamic loading), and kernels are CUDA C++ compiled by NVRTC on the device.
#
# Why this is needed (burn 0.22.1 / cubecl 0.11.3):
#  * cubecl-cuda depends unconditionally (not an optional dependency, no feature gates it) on
#    cubecl-llvm, whose build script (tracel-llvm-bundler) downloads an LLVM bundle from
#    GitHub. `DOCS_RS=1` makes those two build scripts skip LLVM (no other build script in the
#    CUDA dependency graph reads DOCS_RS), but then the LLVM C API symbols that cubecl-llvm's
#    code references are undefined at link time.
#  * The `cuda` feature of rewardedit-cli turns on cubecl-cuda's `cpp` feature, so the default
#    compiler is the CUDA C++ -> NVRTC one and the LLVM/PTX path is never taken. The missing
#    LLVM symbols are satisfied by a generated object of stubs that print a message and abort.
#    The list of symbols is found by a probe link with `--unresolved-symbols=ignore-all`.
#  * cudarc needs the CUDA version at build time; without nvcc it comes from
#    CUDARC_CUDA_VERSION (default here 13000 = CUDA 13.0, the one tested on the H100; override
#    with e.g. CUDARC_CUDA_VERSION=12080 for an older driver).
#
# The device tool cannot carry the 72 MB binary (64 MiB limit): carry target/cuda/rewardedit.gz
# and let scripts/gpu-check.sh unpack it.
#
# With TCH=1 the binary also gets burn's LibTorch backend (`--backend libtorch-cuda`: PyTorch's
# cuDNN/cuBLAS kernels under our models), linked against the libtorch of a CUDA build of PyTorch.
# LIBTORCH names that PyTorch's `torch` folder (with include/ and lib/); the GPU machine's own
# PyTorch is what the binary loads at run time, so it must be the same version (2.11.0+cu130 on
# the lent machines). Without a local PyTorch, unpack the wheel from PyPI (no install needed):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#       torch==2.11.0 -d /tmp/torchwhl && unzip -q /tmp/torchwhl/torch-*.whl 'torch/lib/*' 'torch/include/*' -d /tmp/torchwhl
#   TCH=1 LIBTORCH=/tmp/torchwhl/torch bash scripts/build-cuda.sh
# Run it there with LD_LIBRARY_PATH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib.
#
# Usage: bash scripts/build-cuda.sh        (extra args are passed to cargo, e.g. --locked)
#        TCH=1 LIBTORCH=... TCH_TEST=fused bash scripts/build-cuda.sh   (also a LibTorch test; see the end)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR="$ROOT/target/cuda"
STUB_DIR="$TARGET_DIR/llvm-stubs"
BIN="$TARGET_DIR/release/rewardedit"

export DOCS_RS=1
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"

FEATURES=cuda
LINK_ARGS=()
if [ "${TCH:-0}" = 1 ]; then
    [ -n "${LIBTORCH:-}" ] && [ -f "$LIBTORCH/lib/libtorch_cuda.so" ] || {
        echo "error: TCH=1 needs LIBTORCH set to a CUDA PyTorch's torch folder (lib/libtorch_cuda.so not found in '${LIBTORCH:-}'); see this script's header" >&2
        exit 2
    }
    FEATURES=cuda,tch
    export LIBTORCH LIBTORCH_BYPASS_VERSION_CHECK=1 LIBTORCH_CXX11_ABI=1
    # libtorch_cuda needs the CUDA runtime libraries of PyTorch's nvidia-* packages, which are
    # not here: their symbols resolve on the GPU machine, at load time.
    LINK_ARGS=(-C link-arg=-Wl,--allow-shlib-undefined)
fi
CARGO_ARGS=(rustc --release -p rewardedit-cli --bin rewardedit --features "$FEATURES"
    --target-dir "$TARGET_DIR" "$@")

# unresolved: undefined dynamic symbols of $BIN that no library provides. Versionless and not
# weak, minus those libtorch defines (it has no symbol versions, and loads at run time).
unresolved() {
    nm -D --undefined-only "$BIN" | awk '$1 == "U" && $2 !~ /@/ { print $2 }' | sort -u >"$STUB_DIR/undefined.txt"
    if [ "$FEATURES" = cuda,tch ]; then
        nm -D --defined-only "$LIBTORCH"/lib/lib{torch,torch_cpu,torch_cuda,c10,c10_cuda}.so | awk 'NF == 3 { print $3 }' |
            sed 's/@.*//' | sort -u >"$STUB_DIR/libtorch.txt"
        comm -23 "$STUB_DIR/undefined.txt" "$STUB_DIR/libtorch.txt"
    else
        cat "$STUB_DIR/undefined.txt"
    fi
}

mkdir -p "$STUB_DIR"

echo "== [1/3] probe link (unresolved symbols allowed) to list the missing LLVM symbols"
cargo "${CARGO_ARGS[@]}" -- -C link-arg=-Wl,--unresolved-symbols=ignore-all "${LINK_ARGS[@]}"

# Undefined symbols with no version (glibc's carry @GLIBC_x) and not weak are the ones no
# library provides: LLVM C API, cubecl-llvm's C++ shims, and the target init wrappers.
unresolved >"$STUB_DIR/symbols.txt"
n=$(wc -l <"$STUB_DIR/symbols.txt")
echo "   $n unresolved symbols (first few):"
head -5 "$STUB_DIR/symbols.txt" | sed 's/^/     /'
if grep -qvE '^(LLVM|llvm|LLVMRust|cubecl_|tracel_|_ZN4llvm)' "$STUB_DIR/symbols.txt"; then
    echo "   note: some symbols do not look like LLVM ones:"
    grep -vE '^(LLVM|llvm|LLVMRust|cubecl_|tracel_|_ZN4llvm)' "$STUB_DIR/symbols.txt" | head -20 | sed 's/^/     /'
fi

echo "== [2/3] generate and compile the aborting stubs"
{
    echo '/* Generated by scripts/build-cuda.sh: LLVM symbols referenced by cubecl-llvm, which'
    echo '   this build does not link (kernels go through CUDA C++ / NVRTC instead). */'
    echo '#include <stdio.h>'
    echo '#include <stdlib.h>'
    echo 'static void rewardedit_llvm_stub(const char *name) {'
    echo '    fprintf(stderr, "rewardedit: LLVM function %s called, but this CUDA build has no LLVM "'
    echo '                    "(it uses the CUDA C++/NVRTC kernel compiler); aborting\n", name);'
    echo '    abort();'
    echo '}'
    while read -r s; do
        echo "void $s(void) { rewardedit_llvm_stub(\"$s\"); }"
    done <"$STUB_DIR/symbols.txt"
} >"$STUB_DIR/llvm_stubs.c"
cc -O1 -fPIC -w -c "$STUB_DIR/llvm_stubs.c" -o "$STUB_DIR/llvm_stubs.o"

echo "== [3/3] final link with the stubs (stripped)"
cargo "${CARGO_ARGS[@]}" -- -C link-arg="$STUB_DIR/llvm_stubs.o" -C strip=symbols "${LINK_ARGS[@]}"

# Any symbol still unresolved would only show up at run time: fail here instead.
left=$(unresolved | wc -l)
if [ "$left" -ne 0 ]; then
    echo "error: $left symbols still unresolved in $BIN" >&2
    exit 1
fi

# The stripped binary is ~72 MB, over the device tool's 64 MiB carry limit: also write a
# gzip copy (~19 MB) to carry instead; scripts/gpu-check.sh unpacks it on the GPU machine.
gzip -6 -c "$BIN" >"$TARGET_DIR/rewardedit.gz"

echo "== built $BIN ($(du -h "$BIN" | cut -f1)); to carry: target/cuda/rewardedit.gz ($(du -h "$TARGET_DIR/rewardedit.gz" | cut -f1))"
ldd "$BIN" || true

# TCH_TEST=NAME also builds that test of rewardedit-models (crates/models/tests/NAME.rs, e.g.
# fused) with its `tch` feature: burn without CUDA, so no LLVM stubs (a build of its own,
# ~18 min the first time here). Run the printed binary with LD_LIBRARY_PATH=<torch>/lib as above.
if [ -n "${TCH_TEST:-}" ]; then
    echo "== test target $TCH_TEST"
    cargo rustc --release -p rewardedit-models --test "$TCH_TEST" --features tch --target-dir "$TARGET_DIR" \
        -- "${LINK_ARGS[@]}"
    echo "== test binary: $(ls -t "$TARGET_DIR"/release/deps/"$TCH_TEST"-* | grep -v '\.d$' | head -1)"
fi
