#!/usr/bin/env bash
# tests/cli/demo.sh - the demo pipeline exactly as `make demo` runs it
# (pipelines/demo.mk: blip-synth -> blip-pack -> blip-train -> blip-gen ->
# blip-score, 2,000 synthetic images, 3,750 steps), which must really learn:
# validation Bleu_4 >= 0.5 (0.536 measured; the model has to name shapes,
# colours and their arrangement, which it learns after a plateau of about
# 2,400 steps), while the same model untrained scores near 0. Seeded: the
# numbers repeat on a machine with the same core count.
. "$(dirname "$0")/lib.sh"

D=$T/demo
ok demo_pipeline make --no-print-directory -f pipelines/demo.mk DEMO="$D"
has demo_prints_scores "$T/.out" '^Bleu_4 +[0-9.]+$'
has demo_prints_captions "$T/.out" '^\{"image_id": 5000[0-9]+, "caption": "[a-z ,]+"\}$'
ok demo_best_model test -f "$D/run/best/model.safetensors"
same demo_val_epochs "$(ls "$D"/run/val_epoch*.json | wc -l)" 6

# the same model untrained: one step at learning rate 0 leaves the weights as initialised
blip-train -c configs/demo.json --set init_lr=0 --set min_lr=0 --set max_steps=1 \
  -o "$T/untrained" "$D/shards/train" >/dev/null
blip-gen "$T/untrained/checkpoint-1" "$D/shards/val" > "$T/untrained.jsonl"
blip-score "$D/coco/annotations/captions_val2014.json" "$T/untrained.jsonl" > "$T/untrained.txt"
b4() { awk '$1 == "Bleu_4" { print $2 }' "$1"; }
cider() { awk '$1 == "CIDEr" { print $2 }' "$1"; }
echo "demo: trained Bleu_4 $(b4 "$D/scores.txt") CIDEr $(cider "$D/scores.txt"), untrained Bleu_4 $(b4 "$T/untrained.txt") CIDEr $(cider "$T/untrained.txt")"
ok demo_untrained_scores_near_zero awk -v b="$(b4 "$T/untrained.txt")" 'BEGIN { exit !(b != "" && b < 0.05) }'
ok demo_learns_bleu4 awk -v b="$(b4 "$D/scores.txt")" 'BEGIN { exit !(b >= 0.5) }'
ok demo_learns_cider awk -v c="$(cider "$D/scores.txt")" 'BEGIN { exit !(c >= 3.0) }'
