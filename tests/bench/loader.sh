#!/usr/bin/env bash
# tests/bench/loader.sh - training data pipeline throughput: 640x480 JPEGs of
# photo-like size (blip-synth --noise 30) through decode, BLIP's train
# transform at 384 px (RandomResizedCrop, flip, RandomAugment), normalize and
# caption framing; images/s on one core and on all cores.
set -eu
cd "$(dirname "$0")/../.."
export PATH="$PWD/bin:$PATH"
N=${BENCH_LOADER_IMAGES:-400}
SIZE=${BENCH_LOADER_SIZE:-384}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -pthread -Ilibcommon -o "$T/loader_bench" tests/bench/loader_bench.c \
  build/libblip.a $(pkg-config --libs libturbojpeg libpng jansson libzstd libutf8proc openblas) -fopenmp -lm
blip-synth -n "$N" --val 0 --size 640x480 --noise 30 "$T/coco"
blip-pack -o "$T/shards" "$T/coco"
vocab=${BLIP_SHARED:-../shared}/data/bert-base-uncased-vocab.txt
batches=$((N * 5 / 32))
echo "data loader: BLIP train transform at ${SIZE} px, 640x480 JPEGs, batch 32, $(nproc) cores"
printf '  %-24s %8s images/s\n' "1 thread" "$("$T/loader_bench" "$T/shards" "$vocab" "$SIZE" 32 1 "$batches")"
printf '  %-24s %8s images/s\n' "all cores" "$("$T/loader_bench" "$T/shards" "$vocab" "$SIZE" 32 0 "$batches")"
