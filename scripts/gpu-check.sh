#!/usr/bin/env bash
# Builds the Qwen3-VL plugin with CUDA and runs one SFT step and one GRPO step of a tiny
# random checkpoint on GPU 0. It prints each step's wall time and the peak GPU memory in
# use, sampled with nvidia-smi every 100 ms, so short peaks can be missed.
#
# NOTE: written by reading only; it has not been run on a GPU yet.
#
# Needs: the CUDA toolkit (nvcc) for candle's kernels, nvidia-smi, and the crates already
# in the Cargo cache or network access to crates.io.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/gpu-check}"

echo "== build (release, --features cuda)"
cargo build --release -p assay-qwen3-vl --features cuda --example gpu_step

samples="$(mktemp)"
trap 'rm -f "$samples"; kill "$sampler" 2>/dev/null || true' EXIT
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 >"$samples" &
sampler=$!

echo "== run"
baseline="$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 | head -n1)"
"$CARGO_TARGET_DIR/release/examples/gpu_step"
sleep 0.3
kill "$sampler" 2>/dev/null || true

peak="$(sort -n "$samples" | tail -n1)"
echo "peak GPU memory in use: ${peak} MiB (${baseline} MiB before the run)"
