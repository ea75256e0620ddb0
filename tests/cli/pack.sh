#!/usr/bin/env bash
# tests/cli/pack.sh - blip-synth and blip-pack end to end: determinism, round
# trips, image kinds, splits, Karpathy files, bad input, corruption, interrupts.
. "$(dirname "$0")/lib.sh"
FIX=tests/fixtures/image

# --- blip-synth ---------------------------------------------------------------
ok synth_runs blip-synth -n 60 --val 12 --size 64 --seed 7 "$T/syn"
ok synth_same_seed_same_bytes blip-synth -n 60 --val 12 --size 64 --seed 7 -j 1 "$T/syn2"
ok synth_identical diff -r "$T/syn" "$T/syn2"
blip-synth -n 60 --val 12 --size 64 --seed 8 "$T/syn3"
if diff -rq "$T/syn" "$T/syn3" >/dev/null; then fail synth_seed_changes_output; else pass synth_seed_changes_output; fi
same synth_train_count "$(ls "$T/syn/train2014" | wc -l)" 60
same synth_val_count "$(ls "$T/syn/val2014" | wc -l)" 12
has synth_coco_layout "$T/syn/annotations/captions_val2014.json" '"file_name": "COCO_val2014_000000500001.jpg"'
prog=$(LC_ALL=C grep -l -a -P '\xFF\xC2' "$T"/syn/train2014/*.jpg | wc -l)
gray=$(LC_ALL=C grep -l -a -P '\xFF\xC0\x00\x0B' "$T"/syn/train2014/*.jpg | wc -l)
[ "$prog" -ge 3 ] && pass synth_has_progressive || fail synth_has_progressive "$prog"
[ "$gray" -ge 2 ] && pass synth_has_grayscale || fail synth_has_grayscale "$gray"
exits synth_help 0 blip-synth --help
exits synth_usage_error 2 blip-synth
exits synth_bad_count 2 blip-synth -n -3 "$T/x"

# --- packing round trip -------------------------------------------------------
ok pack_dir blip-pack -o "$T/p1" "$T/syn"
ok pack_verify_dir blip-pack --verify "$T/p1"
blip-pack --list "$T/p1" > "$T/list1"
same pack_record_count "$(wc -l < "$T/list1")" 72
same pack_caption_count "$(grep -o '"caption":' "$T/list1" | wc -l)" 360
has pack_split_val "$T/list1" '"split":"val"'
# original JPEG bytes are stored as they are
f=$(ls "$T"/syn/train2014/*.jpg | head -1); id=$((10#$(basename "$f" .jpg | sed 's/.*_//')))
same pack_keeps_original_bytes "$(grep "\"image_id\":$id," "$T/list1" | grep -o '"bytes":[0-9]*')" "\"bytes\":$(stat -c %s "$f")"
ok pack_deterministic_threads blip-pack -j 1 -o "$T/p2" "$T/syn"
ok pack_same_bytes_any_threads cmp "$T/p1/train-00000.shard" "$T/p2/train-00000.shard"
blip-pack --split val "$T/syn" > "$T/val.stream"
ok pack_stream_equals_file cmp "$T/val.stream" "$T/p1/val-00000.shard"
same pack_stream_from_pipe "$(blip-pack --split val "$T/syn" | blip-pack --list - | wc -l)" 12
same pack_prefix_path "$(blip-pack --list "$T/p1/val" | wc -l)" 12
ok pack_small_shards blip-pack --shard-size 64K -o "$T/p3" "$T/syn"
n=$(ls "$T"/p3/train-*.shard | wc -l)
[ "$n" -ge 2 ] && pass pack_rotates_shards || fail pack_rotates_shards "$n shards"
ok pack_small_shards_verify blip-pack --verify "$T/p3"
same pack_small_shards_same_records "$(blip-pack --list "$T/p3" | md5sum)" "$(md5sum < "$T/list1")"
# repacking one split with a bigger shard size removes its stale shards and keeps the other split
ok pack_repack_val blip-pack --split train -o "$T/p3" "$T/syn"
same pack_stale_removed "$(ls "$T"/p3/train-*.shard | wc -l)" 1
ok pack_repack_verify blip-pack --verify "$T/p3"
same pack_repack_keeps_val "$(blip-pack --list "$T/p3" | wc -l)" 72
ok pack_max_side blip-pack --max-side 32 --split val -o "$T/p4" "$T/syn"
has pack_max_side_resized <(blip-pack --list "$T/p4") '"width":32,"height":32'

# --- image kinds: PNG, CMYK, grayscale, progressive inputs --------------------
mkdir -p "$T/kinds/annotations" "$T/kinds/val2014"
imgs="" anns="" i=0
for k in jpeg_cmyk jpeg_gray jpeg_progressive png_palette png_rgb16 png_rgba png_interlaced png_1bit; do
  i=$((i + 1)); ext=${k%%_*}; [ "$ext" = jpeg ] && ext=jpg
  cp "$FIX/$k.$ext" "$T/kinds/val2014/COCO_val2014_$(printf %012d $i).jpg"
  imgs="$imgs{\"id\": $i, \"file_name\": \"COCO_val2014_$(printf %012d $i).jpg\"},"
  anns="$anns{\"id\": $i, \"image_id\": $i, \"caption\": \"kind $k\"},"
done
echo "{\"images\": [${imgs%,}], \"annotations\": [${anns%,}]}" > "$T/kinds/annotations/captions_val2014.json"
ok pack_every_kind blip-pack --strict -o "$T/pk" "$T/kinds"
same pack_every_kind_count "$(blip-pack --list "$T/pk" | wc -l)" 8
same pack_every_kind_jpeg "$(blip-pack --list "$T/pk" | grep -c '"format":"jpeg","bytes"')" 8
has pack_kind_size "$T/kinds/annotations/captions_val2014.json" 'kind png_rgb16'
has pack_kind_dims <(blip-pack --list "$T/pk") '"width":37,"height":23'

# --- missing and undecodable images --------------------------------------------
cp -r "$T/syn" "$T/broken"
rm "$T/broken/val2014/COCO_val2014_000000500003.jpg"
head -c 300 "$T/syn/val2014/COCO_val2014_000000500004.jpg" > "$T/broken/val2014/COCO_val2014_000000500004.jpg"
exits pack_skips_bad_images 0 blip-pack --split val -o "$T/pb" "$T/broken"
has pack_warns_missing "$T/.err" 'COCO_val2014_000000500003.jpg: No such file or directory \(image 500003 skipped\)'
has pack_warns_truncated "$T/.err" '500004.jpg: truncated JPEG'
has pack_summary "$T/.err" 'skipped 2 \(1 missing, 1 undecodable\)'
same pack_skipped_count "$(blip-pack --list "$T/pb" | wc -l)" 10
has pack_manifest_skips "$T/pb/manifest.json" '"reason": "missing"'
exits pack_strict_fails 1 blip-pack --strict --split val -o "$T/pstrict" "$T/broken"
[ ! -e "$T/pstrict/manifest.json" ] && pass pack_strict_no_manifest || fail pack_strict_no_manifest
[ -z "$(ls "$T/pstrict" 2>/dev/null | grep tmp-)" ] && pass pack_strict_no_temp_files || fail pack_strict_no_temp_files

# --- malformed annotations ----------------------------------------------------------
mkdir -p "$T/badjson/annotations"
printf '{"images": [\n  {"id": 1,}\n]}' > "$T/badjson/annotations/captions_val2014.json"
exits pack_malformed_json 1 blip-pack --split val "$T/badjson"
has pack_malformed_json_line_col "$T/.err" 'captions_val2014.json:2:[0-9]+: malformed JSON'
same pack_malformed_one_line "$(wc -l < "$T/.err")" 1
echo '{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 1, "image_id": 1}]}' > "$T/badjson/annotations/captions_val2014.json"
exits pack_missing_field 1 blip-pack --split val "$T/badjson"
has pack_missing_field_named "$T/.err" 'annotations\[0\]: missing field "caption"'
exits pack_no_root 1 blip-pack "$T/nonexistent"
exits pack_test_needs_karpathy 2 blip-pack --split test "$T/syn"
exits pack_help 0 blip-pack --help
exits pack_bad_option 2 blip-pack --frobnicate "$T/syn"
exits pack_bad_shard_size 2 blip-pack --shard-size 12Q "$T/syn"

# --- corrupt and truncated shards -----------------------------------------------------
cp "$T/p1/val-00000.shard" "$T/c.shard"
printf '\x55' | dd of="$T/c.shard" bs=1 seek=3000 conv=notrunc 2>/dev/null
exits verify_corrupt 1 blip-pack --verify "$T/c.shard"
has verify_names_record "$T/.err" 'c.shard: record [0-9]+ \(offset [0-9]+, image [0-9]+\): record checksum mismatch'
exits list_corrupt 1 blip-pack --list "$T/c.shard"
head -c 20000 "$T/p1/val-00000.shard" > "$T/t.shard"
exits verify_truncated 1 blip-pack --verify "$T/t.shard"
exits list_truncated 1 blip-pack --list "$T/t.shard"
exits verify_truncated_stream 1 sh -c "cat '$T/t.shard' | blip-pack --verify -"
cp "$T/p1/val-00000.shard" "$T/p1/val-00007.shard"
exits verify_unlisted_shard 1 blip-pack --verify "$T/p1"
has verify_unlisted_named "$T/.err" 'val-00007.shard: not listed in the manifest'
rm "$T/p1/val-00007.shard"
cp "$T/c.shard" "$T/p1/val-00000.shard"
exits verify_dir_corrupt 1 blip-pack --verify "$T/p1"

# --- interrupted runs never leave a complete-looking pack ---------------------------------
blip-synth -n 3000 --val 0 --size 96 "$T/big" 2>/dev/null
timeout -s KILL 0.3 blip-pack -j 1 --shard-size 64K -o "$T/pi" "$T/big" 2>/dev/null
if [ -e "$T/pi/manifest.json" ]; then
  ok interrupt_complete_or_unverifiable blip-pack --verify "$T/pi"
else
  exits interrupt_complete_or_unverifiable 1 blip-pack --verify "$T/pi"
fi
bad=0; for s in "$T"/pi/*.shard; do [ -e "$s" ] || continue; blip-pack --verify "$s" >/dev/null 2>&1 || bad=1; done
[ $bad = 0 ] && pass interrupt_every_shard_complete || fail interrupt_every_shard_complete
timeout -s INT 0.3 blip-pack -j 1 --shard-size 64K -o "$T/pj" "$T/big" 2>/dev/null
[ -z "$(ls "$T/pj" | grep tmp-)" ] && pass interrupt_sigint_cleans_temp || fail interrupt_sigint_cleans_temp "$(ls "$T/pj")"

# --- Karpathy split files --------------------------------------------------------------
cat > "$T/dataset_coco.json" <<JSON
{"dataset": "coco", "images": [
 {"filepath": "val2014", "filename": "COCO_val2014_000000500001.jpg", "cocoid": 500001, "split": "test",
  "sentences": [{"raw": "A test caption.", "sentid": 11}, {"raw": "another", "sentid": 12}]},
 {"filepath": "val2014", "filename": "COCO_val2014_000000500002.jpg", "cocoid": 500002, "split": "restval",
  "sentences": [{"raw": "restval goes to train", "sentid": 13}]},
 {"filepath": "train2014", "filename": "COCO_train2014_000000000001.jpg", "cocoid": 1, "split": "val",
  "sentences": [{"raw": "val caption", "sentid": 14}]}]}
JSON
ok karpathy_dataset blip-pack --karpathy "$T/dataset_coco.json" -o "$T/pkk" "$T/syn"
same karpathy_splits "$(blip-pack --list "$T/pkk" | grep -o '"split":"[a-z]*"' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')" ' 1 "split":"test"  1 "split":"train"  1 "split":"val" '
has karpathy_sentid "$T/pkk/manifest.json" '"test-00000.shard"'
same karpathy_test_only "$(blip-pack --karpathy "$T/dataset_coco.json" --split test "$T/syn" | blip-pack --list - | grep -o '"caption":"[^"]*"' | tr '\n' ' ')" '"caption":"A test caption." "caption":"another" '
cat > "$T/coco_karpathy_train.json" <<JSON
[{"caption": "first", "image": "val2014/COCO_val2014_000000500001.jpg", "image_id": "coco_500001"},
 {"caption": "second", "image": "val2014/COCO_val2014_000000500001.jpg", "image_id": "coco_500001"},
 {"caption": "third", "image": "train2014/COCO_train2014_000000000002.jpg", "image_id": "coco_2"}]
JSON
cat > "$T/coco_karpathy_val.json" <<JSON
[{"image": "val2014/COCO_val2014_000000500002.jpg", "caption": ["v1", "v2", "v3"]}]
JSON
ok karpathy_blip blip-pack --karpathy "$T/coco_karpathy_train.json" --karpathy "$T/coco_karpathy_val.json" -o "$T/pkb" "$T/syn"
same karpathy_blip_records "$(blip-pack --list "$T/pkb" | wc -l)" 3
has karpathy_blip_grouped <(blip-pack --list "$T/pkb") '"image_id":500001.*"caption":"first".*"caption":"second"'
has karpathy_blip_val <(blip-pack --list "$T/pkb/val") '"v1".*"v2".*"v3"'
echo '[{"image": "x.jpg", "caption": "no id"}]' > "$T/coco_karpathy_test.json"
exits karpathy_bad_name 1 blip-pack --karpathy "$T/coco_karpathy_test.json" "$T/syn"
has karpathy_bad_name_msg "$T/.err" 'no image id in file name "x.jpg"'

# --- --full-check packs the same bytes when every image decodes ------------------------
ok pack_full_check blip-pack --full-check -o "$T/pf" "$T/syn"
ok pack_full_check_same cmp "$T/pf/train-00000.shard" "$T/p2/train-00000.shard"
