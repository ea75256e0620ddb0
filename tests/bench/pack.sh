#!/usr/bin/env bash
# tests/bench/pack.sh - blip-pack throughput (images/s, MB/s of input) on
# 640x480 JPEGs of photo-like size (blip-synth --noise 30, ~140 KB each):
# storing the original bytes, and re-encoding with --max-side 384.
# No Python reference packs shards, so there is nothing to compare against.
set -eu
cd "$(dirname "$0")/../.."
export PATH="$PWD/bin:$PATH"
N=${BENCH_PACK_IMAGES:-1000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
blip-synth -n "$N" --val 0 --size 640x480 --noise 30 "$T/coco"
cat "$T"/coco/train2014/*.jpg > /dev/null   # page cache warm, as on a second pass
mb=$(du -sm "$T/coco/train2014" | cut -f1)
echo "blip-pack: $N images, 640x480, ${mb} MB, $(nproc) cores"
run() { # label, args...
  local label=$1; shift
  rm -rf "$T/out"
  local t0 t1
  t0=$(date +%s.%N)
  blip-pack "$@" -o "$T/out" "$T/coco"
  t1=$(date +%s.%N)
  awk -v n="$N" -v mb="$mb" -v t0="$t0" -v t1="$t1" -v l="$label" \
    'BEGIN { dt = t1 - t0; printf "  %-32s %8.0f images/s %8.1f MB/s  (%.2f s)\n", l, n / dt, mb / dt, dt }'
}
run "store originals, all cores"
run "store originals, 1 core" -j 1
run "store, --full-check, all cores" --full-check
run "--max-side 384, all cores" --max-side 384
run "--max-side 384, 1 core" --max-side 384 -j 1
