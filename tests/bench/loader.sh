#!/usr/bin/env bash
# tests/bench/loader.sh - training data pipeline throughput: 640x480 JPEGs of
# photo-like size (blip-synth --noise 30) through decode, BLIP's train
# transform at 384 px (RandomResizedCrop, flip, RandomAugment), normalize and
# caption framing. For one loader thread and for all cores: images per
# wall-clock second, and images per CPU second of the process (user + system),
# the per-core figure least disturbed by other processes' load.
set -eu
cd "$(dirname "$0")/../.."
[ -x build/bench/loader_bench ] || { echo "loader.sh: build/bench/loader_bench missing: run 'make bench'" >&2; exit 1; }
export PATH="$PWD/bin:$PATH"
N=${BENCH_LOADER_IMAGES:-400}
SIZE=${BENCH_LOADER_SIZE:-384}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
blip-synth -n "$N" --val 0 --size 640x480 --noise 30 "$T/coco"
blip-pack -o "$T/shards" "$T/coco"
vocab=${BLIP_SHARED:-../shared}/data/bert-base-uncased-vocab.txt
batches=$((N * 5 / 32)) # the whole epoch: the CPU time then counts exactly these images
echo "data loader: BLIP train transform at ${SIZE} px, 640x480 JPEGs, batch 32, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
run() {
    read -r wall cpu < <(build/bench/loader_bench "$T/shards" "$vocab" "$SIZE" 32 "$2" "$batches")
    printf '  %-12s %8s images/s %8s images/CPU-s\n' "$1" "$wall" "$cpu"
}
run "1 thread" 1
run "all cores" 0
