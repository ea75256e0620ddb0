#!/usr/bin/env bash
# tests/cli/score.sh - blip-score: table, --json, JSON lines from a pipe,
# --per-image, --metrics, duplicates, unknown ids, malformed input, exit codes.
. "$(dirname "$0")/lib.sh"
D=${BLIP_SHARED:-../shared}/data/coco-caption-demo
F=tests/fixtures/score

exits help 0 blip-score --help
exits no_args 2 blip-score
exits bad_option 2 blip-score --nope "$D/refs.json"
exits bad_metric 2 blip-score --metrics bleu,meteor "$D/refs.json" "$D/results.json"

blip-score "$D/refs.json" "$D/results.json" > "$T/table" 2> "$T/err"
has table_bleu4 "$T/table" '^Bleu_4 +0\.1908$'
has table_cider "$T/table" '^CIDEr +0\.5999$'
same table_rows "$(wc -l < "$T/table")" 6
same quiet_by_default "$(wc -c < "$T/err")" 0

# --json: full precision, pycocoevalcap's key names and values (tokenized run).
blip-score --json "$D/refs.json" "$D/results.json" > "$T/json"
has json_keys "$T/json" '^\{"Bleu_1": 0\.5793995754573356, "Bleu_2": 0\.40439129741018104, "Bleu_3": 0\.2785363856619147, "Bleu_4": 0\.1908290437674253, "ROUGE_L": 0\.39625269357570847, "CIDEr": 0\.5998952026835711\}$'

# The same results as JSON lines through a pipe, in another order.
sed -e 's/^\[//' -e 's/\]$//' -e 's/}, {/}\n{/g' "$D/results.json" | awk 1 | tac > "$T/res.jsonl"
same jsonl_lines "$(grep -c '^{"image_id": [0-9]*, "caption": ".*"}$' "$T/res.jsonl")" 1000
same jsonl_pipe "$(blip-score --json "$D/refs.json" < "$T/res.jsonl")" "$(cat "$T/json")"
same jsonl_dash "$(cat "$T/res.jsonl" | blip-score --json "$D/refs.json" -)" "$(cat "$T/json")"

# --metrics and --per-image (pycocoevalcap's per-image values, synthetic raw captions).
blip-score --json --metrics cider,bleu --per-image "$T/per.json" "$F/synth_refs.json" "$F/synth_results.json" > "$T/m"
has metrics_subset "$T/m" '^\{"Bleu_1": [0-9.e-]+, "Bleu_2": [0-9.e-]+, "Bleu_3": [0-9.e-]+, "Bleu_4": [0-9.e-]+, "CIDEr": [0-9.e-]+\}$'
# Every "name": value pair of the per-image file, in order, against the fixture's
# (after its 6 corpus values; ROUGE_L was not asked for). Both print Python's repr.
pairs() { grep -o '"[A-Za-z_0-9]*": [-+0-9.e]\+' "$1"; }
pairs "$F/synth_scores.json" | tail -n +7 | grep -v ROUGE_L > "$T/want_pairs"
pairs "$T/per.json" > "$T/got_pairs"
same per_image_count "$(grep -c image_id "$T/got_pairs")" 270
if cmp -s "$T/got_pairs" "$T/want_pairs"; then pass per_image_matches; else fail per_image_matches "$(diff "$T/got_pairs" "$T/want_pairs" | head -4)"; fi

# Duplicates: an error naming the id, unless --dedup (keeps the first).
{ head -n 1 "$T/res.jsonl" | sed 's/"caption": "[^"]*"/"caption": "a dog"/'; cat "$T/res.jsonl"; } > "$T/dup.jsonl"
exits duplicate_error 1 blip-score "$D/refs.json" "$T/dup.jsonl"
has duplicate_names_id "$T/.err" 'image_id [0-9]+ has more than one result'
blip-score --json --dedup "$D/refs.json" "$T/dup.jsonl" > "$T/dedup"
same dedup_keeps_first "$(grep -c . "$T/dedup")" 1
if cmp -s "$T/dedup" "$T/json"; then fail dedup_used_first_result; else pass dedup_used_first_result; fi

# Unknown image id, malformed JSON (line:col), missing fields, empty input.
echo '{"image_id": 7, "caption": "a cat"}' > "$T/unknown.jsonl"
exits unknown_id 1 blip-score "$D/refs.json" "$T/unknown.jsonl"
has unknown_id_named "$T/.err" 'image_id 7 is not in'
printf '{"image_id": 400, "caption": "a dog"}\n{"image_id": 1146, "caption": "x" oops}\n' > "$T/bad.jsonl"
exits malformed_jsonl 1 blip-score "$D/refs.json" "$T/bad.jsonl"
has malformed_jsonl_line_col "$T/.err" 'bad\.jsonl:2:[0-9]+: malformed JSON'
printf '[{"image_id": 400, "caption": "a dog"},\n {"image_id": 1146 "caption": "x"}]\n' > "$T/bad.json"
exits malformed_array 1 blip-score "$D/refs.json" "$T/bad.json"
has malformed_array_line_col "$T/.err" 'bad\.json:2:[0-9]+: malformed JSON'
echo '{"image_id": 400}' > "$T/nocap.jsonl"
exits missing_caption 1 blip-score "$D/refs.json" "$T/nocap.jsonl"
has missing_caption_named "$T/.err" 'nocap\.jsonl:1 \(image_id 400\): missing field "caption"'
echo '[{"image_id": 400, "caption": 5}]' > "$T/numcap.json"
exits number_caption 1 blip-score "$D/refs.json" "$T/numcap.json"
has number_caption_named "$T/.err" 'result \[0\] \(image_id 400\): field "caption" should be a string'
printf '{"image_id": 400, "caption": "a \xff dog"}\n' > "$T/latin1.jsonl"
exits non_utf8 1 blip-score "$D/refs.json" "$T/latin1.jsonl"
has non_utf8_line_col "$T/.err" 'latin1\.jsonl:1:[0-9]+: malformed JSON'
echo '{"image_id": "400", "caption": "a dog"}' > "$T/strid.jsonl"
exits string_id 1 blip-score "$D/refs.json" "$T/strid.jsonl"
: > "$T/empty"
exits empty_results 1 blip-score "$D/refs.json" "$T/empty"
exits missing_refs 1 blip-score "$T/nope.json" "$D/results.json"

# REFS errors: malformed JSON at its line and column (in characters), missing
# or mistyped fields, an annotation of an image not in "images".
printf '{"images": [{"id": 1, "file_name": "caf\xc3\xa9.jpg"}],\n "annotations": [{"id": 1, "image_id": 1, "caption": "\xc3\xa9\\q"}]}\n' > "$T/badrefs.json"
exits malformed_refs 1 blip-score "$T/badrefs.json" "$D/results.json"
has malformed_refs_line_col "$T/.err" 'badrefs\.json:2:56: malformed JSON: invalid escape'
printf '{"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "caption": "a"} x]}' > "$T/badrefs1.json"
exits malformed_refs_one_line 1 blip-score "$T/badrefs1.json" "$D/results.json"
has malformed_refs_one_line_col "$T/.err" 'badrefs1\.json:1:82: malformed JSON'
echo '{"images": [{"id": 1}]}' > "$T/noanns.json"
exits refs_no_annotations 1 blip-score "$T/noanns.json" "$D/results.json"
has refs_no_annotations_named "$T/.err" 'noanns\.json: missing field "annotations"$'
echo '{"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1.0, "caption": "a"}]}' > "$T/realid.json"
exits refs_real_id 1 blip-score "$T/realid.json" "$D/results.json"
has refs_real_id_named "$T/.err" 'realid\.json: annotations\[0\]: field "image_id" should be an integer, found a number'
echo '{"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 2, "caption": "a"}]}' > "$T/orphan.json"
exits refs_unknown_image 1 blip-score "$T/orphan.json" "$D/results.json"
has refs_unknown_image_named "$T/.err" 'orphan\.json: annotations\[0\]: image_id 2 is not in "images"'
