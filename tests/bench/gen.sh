#!/usr/bin/env bash
# tests/bench/gen.sh - caption generation speed: BLIP-base (ViT-B/16 at
# 384 px + BERT-base decoder, random weights) on the CPU, beam 3 (BLIP's
# evaluation) and greedy, batch 1 and 8, max_length 20; side by side with
# HuggingFace generate() when torch and transformers are installed.
# BENCH_GEN_BATCHES (default 1) batches per case.
set -eu
cd "$(dirname "$0")/../.."
[ -x build/bench/gen_bench ] || { echo "gen.sh: build/bench/gen_bench missing: run 'make bench'" >&2; exit 1; }
N=${BENCH_GEN_BATCHES:-1}
have_torch=0
python3 -c 'import torch, transformers' 2>/dev/null && have_torch=1
echo "blip-gen captions, BLIP-base random weights, $(nproc) cores, $N batch(es) per case"
printf '  %-22s %12s %10s %12s %10s %8s\n' case blip-caps/s blip-toks hf-caps/s hf-toks speedup
run() { # label, B, beams
  local label=$1 c p
  c=$(build/bench/gen_bench "$2" "$3" "$N")
  if [ "$have_torch" = 1 ]; then p=$(python3 tests/bench/gen_torch.py "$2" "$3" "$N" 2>/dev/null); else p="- - - - - -"; fi
  set -- $c $p
  awk -v l="$label" -v cs="$5" -v ct="$6" -v ps="${11}" -v pt="${12}" 'BEGIN {
    sp = (ps == "-") ? "-" : sprintf("%.2fx", cs / ps)
    printf "  %-22s %12.3f %10.1f %12s %10s %8s\n", l, cs, ct, ps, pt, sp }'
}
run "beam 3, batch 1" 1 3
run "beam 3, batch 8" 8 3
run "greedy, batch 8" 8 1
