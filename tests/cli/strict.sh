#!/usr/bin/env bash
# tests/cli/strict.sh - the tools on the cpu-strict device, where host code
# that touches device memory outside the backend faults: what would read
# stale or foreign memory on a GPU fails here, on the CPU. Results must equal
# the plain CPU device's.
. "$(dirname "$0")/lib.sh"
M=tests/fixtures/gen/e2e/model

blip-synth -n 0 --val 6 --size 64 --seed 5 "$T/syn" 2>/dev/null
ls "$T"/syn/val2014/*.jpg > "$T/list"
for mode in "--beams 3" "--beams 1" "--sample --seed 3"; do
    name=$(echo "$mode" | tr -d ' -')
    blip-gen $mode --format text "$M" < "$T/list" > "$T/cpu"
    blip-gen $mode --device cpu-strict --format text "$M" < "$T/list" > "$T/strict" 2> "$T/err"
    same gen_strict_$name "$(cat "$T/strict")" "$(cat "$T/cpu")"
done
exits gen_strict_bf16 1 blip-gen --device cpu-strict --precision bf16 "$M"
has gen_bf16_message "$T/.err" 'needs the CUDA backend'
