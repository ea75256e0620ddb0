#!/usr/bin/env bash
# tests/cli/gen.sh - blip-gen end to end: a model directory saved by
# transformers, blip-synth images, the captions HF generate() gave for them
# (tests/ref/make_gen_fixtures.py); image files, stdin paths and shards;
# the three formats; sampling; bad input and exit codes.
. "$(dirname "$0")/lib.sh"
F=tests/fixtures/gen/e2e
M=$F/model

exits help 0 blip-gen --help
exits no_args 2 blip-gen
exits bad_option 2 blip-gen --nope "$M"
exits bad_format 2 blip-gen --format xml "$M"
exits sample_beams 2 blip-gen --sample --beams 3 "$M"
exits max_length_too_long 2 blip-gen --max-length 99 "$M"
exits bad_seed 2 blip-gen --seed x "$M"
# no CUDA backend in a CPU build; no usable GPU for a CUDA build on this machine
exits cuda_unavailable 1 blip-gen --device cuda "$M"
has cuda_message "$T/.err" 'no CUDA backend|no usable GPU'

blip-synth -n 0 --val 24 --size 64 --seed 5 "$T/syn" 2>/dev/null
ls "$T"/syn/val2014/*.jpg > "$T/list"

# Beam search (BLIP's defaults) and greedy: HF's captions for every image.
blip-gen --format text "$M" $(cat "$T/list") > "$T/beam" 2> "$T/err"
same beam3_matches_hf "$(sed 's|^.*/||' "$T/beam")" "$(cat $F/captions.tsv)"
same quiet_by_default "$(wc -c < "$T/err")" 0
blip-gen --beams 1 -b 5 --format text "$M" < "$T/list" > "$T/greedy"
same greedy_stdin_matches_hf "$(sed 's|^.*/||' "$T/greedy")" "$(cat $F/captions_greedy.tsv)"
blip-gen --legacy-scoring -b 7 --format text "$M" < "$T/list" > "$T/legacy"
same legacy_matches_hf415 "$(sed 's|^.*/||' "$T/legacy")" "$(cat $F/captions_legacy.tsv)"
blip-gen -b 1 -j 1 --format text "$M" < "$T/list" > "$T/beam1"
same batch1_same_captions "$(cat "$T/beam1")" "$(cat "$T/beam")"

# Shards: JSON lines with the records' image ids, in shard order.
blip-pack -o "$T/shards" --split val "$T/syn" 2>/dev/null
blip-gen "$M" "$T/shards" > "$T/jsonl"
sed -E 's/^\{"image_id": ([0-9]+), "caption": "(.*)"\}$/\1\t\2/' "$T/jsonl" | sort > "$T/got"
sed -E 's/^COCO_val2014_0*([0-9]+)\.jpg/\1/' $F/captions.tsv | sort > "$T/want"
same shards_match_hf "$(cat "$T/got")" "$(cat "$T/want")"
same jsonl_lines "$(wc -l < "$T/jsonl")" 24
blip-pack --split val "$T/syn" 2>/dev/null | blip-gen "$M" - > "$T/stream"
same shard_stream "$(cat "$T/stream")" "$(cat "$T/jsonl")"

# COCO results format straight into blip-score.
blip-gen --format coco "$M" "$T/shards" > "$T/coco"
has coco_array "$T/coco" '^\[\{"image_id": [0-9]+, "caption": '
ok coco_scores blip-score "$T/syn/annotations/captions_val2014.json" "$T/coco"
# A file name without a COCO id is reported as "file".
cp "$(head -1 "$T/list")" "$T/photo.jpg"
blip-gen "$M" "$T/photo.jpg" > "$T/file"
has file_key "$T/file" "^\{\"file\": \"$T/photo.jpg\", \"caption\": "

# Sampling: reproducible per seed, min-length kept.
blip-gen --sample --seed 3 --format text "$M" $(head -8 "$T/list") > "$T/s1"
blip-gen --sample --seed 3 -b 3 --format text "$M" $(head -8 "$T/list") > "$T/s2"
same sample_reproducible "$(cat "$T/s1")" "$(cat "$T/s2")"
same sample_lines "$(wc -l < "$T/s1")" 8

# Bad input: an unreadable image is named and skipped, exit 1 at the end.
head -c 300 "$(head -1 "$T/list")" > "$T/broken.jpg"
blip-gen --format text "$M" "$T/broken.jpg" $(sed -n 2,3p "$T/list") > "$T/bad" 2> "$T/err"
same bad_image_exit $? 1
has bad_image_named "$T/err" 'broken\.jpg'
same bad_image_others_done "$(wc -l < "$T/bad")" 2
exits missing_file 1 blip-gen "$M" "$T/none.jpg"
# A model directory whose tensors do not fit its config: fails before any work.
mkdir -p "$T/mix" && cp $M/config.json $M/vocab.txt "$T/mix/" && cp tests/fixtures/gen/wide/model.safetensors "$T/mix/"
exits misfit_model 1 blip-gen "$M/../nothing-here" "$(head -1 "$T/list")"
exits misfit_tensor 1 blip-gen "$T/mix" "$(head -1 "$T/list")"
has misfit_tensor_named "$T/.err" 'tensor'
