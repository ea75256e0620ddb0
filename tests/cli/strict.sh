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

# Training (with validation at the epoch end): identical losses and weights.
blip-synth -n 8 --val 4 --size 32 --seed 3 "$T/tsyn" 2>/dev/null && blip-pack -o "$T/sh" "$T/tsyn" >/dev/null
tiny=(-c configs/demo.json --set image_size=32 --set batch_size=8 --set log_every=1 --set max_steps=6
      --set vision_width=32 --set vision_mlp=64 --set text_width=32 --set text_mlp=64 --set threads=1)
losses() { grep '"loss"' "$1/metrics.jsonl" | sed 's/,"samples_per_s".*//'; }
ok train_cpu blip-train "${tiny[@]}" --val "$T/sh/val" -o "$T/run_cpu" "$T/sh/train"
ok train_strict blip-train "${tiny[@]}" --device cpu-strict --val "$T/sh/val" -o "$T/run_strict" "$T/sh/train"
same train_strict_losses "$(losses "$T/run_strict")" "$(losses "$T/run_cpu")"
same train_strict_weights "$(cmp "$T/run_cpu/checkpoint-6/model.safetensors" "$T/run_strict/checkpoint-6/model.safetensors" && echo same)" same
