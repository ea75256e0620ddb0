#!/usr/bin/env bash
# tests/bench/model.sh - BLIP captioner speed and memory on the CPU backend:
# forward + backward of the tiny fixture configs, and BLIP-base (ViT-B/16 at
# 384 px + BERT-base decoder, random weights) forward on 1 image and a
# training step (forward, backward, AdamW) on a batch of 4, captions of
# BENCH_T tokens (default 20); side by side with PyTorch when it is installed.
set -eu
cd "$(dirname "$0")/../.."
[ -x build/bench/model_bench ] || { echo "model.sh: build/bench/model_bench missing: run 'make bench'" >&2; exit 1; }
T=${BENCH_T:-20}
have_torch=0
python3 -c 'import torch, transformers' 2>/dev/null && have_torch=1
echo "BLIP captioner, $(nproc) cores; seconds per iteration, peak RSS"
printf '  %-34s %14s %10s %14s %10s %8s\n' case blip-s blip-MiB torch-s torch-MiB speedup
run() { # label, config, B, T, mode
  local label=$1; shift
  local c p
  c=$(build/bench/model_bench "$@")
  if [ "$have_torch" = 1 ]; then p=$(python3 tests/bench/model_torch.py "$@" 2>/dev/null); else p="- - - - -"; fi
  set -- $c $p
  awk -v l="$label" -v cs="$4" -v cm="$5" -v ps="$9" -v pm="${10}" 'BEGIN {
    sp = (ps == "-") ? "-" : sprintf("%.2fx", ps / cs)
    printf "  %-34s %14.4f %10.0f %14s %10s %8s\n", l, cs, cm, ps, pm, sp }'
}
for c in odd wide; do
  f=tests/fixtures/model/$c/model/config.json
  run "tiny $c forward (B 4, T 12)" "$f" 4 12 forward
  run "tiny $c train step (B 4, T 12)" "$f" 4 12 train
done
run "BLIP-base forward (B 1, T $T)" base 1 "$T" forward
run "BLIP-base train step (B 4, T $T)" base 4 "$T" train
