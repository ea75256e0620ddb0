#!/usr/bin/env bash
# tests/cli/train.sh - blip-train: usage, config overrides, run directory,
# exact resume (N steps + resume to 2N equals 2N straight, across an epoch
# end), NaN stop, checkpoint rotation, validation files.
. "$(dirname "$0")/lib.sh"

blip-synth -n 8 --val 4 --size 32 --seed 3 "$T/syn" && blip-pack -o "$T/sh" "$T/syn" >/dev/null
# 8 images x 5 captions / batch 8 = 5 steps per epoch
tiny=(-c configs/demo.json --set image_size=32 --set batch_size=8 --set log_every=1 --set max_epoch=3
      --set vision_width=32 --set vision_mlp=64 --set text_width=32 --set text_mlp=64 --set threads=1)
steps() { grep '"loss"' "$1/metrics.jsonl" | sed 's/,"samples_per_s".*//'; }

exits help 0 blip-train --help
exits no_args 2 blip-train
exits no_config 2 blip-train -o "$T/r0" "$T/sh/train"
exits unknown_key 2 blip-train "${tiny[@]}" --set nope=1 -o "$T/r0" "$T/sh/train"
exits bad_type 2 blip-train "${tiny[@]}" --set batch_size=big -o "$T/r0" "$T/sh/train"
# no CUDA backend in a CPU build; no usable GPU for a CUDA build on this machine
exits cuda_unavailable 1 blip-train "${tiny[@]}" --device cuda -o "$T/r0" "$T/sh/train"
has cuda_message "$T/.err" 'no CUDA backend|no usable GPU'
exits resume_without_checkpoint 1 blip-train "${tiny[@]}" --resume -o "$T/r0" "$T/sh/train"

# straight: 7 steps (epoch 0, epoch end with validation, 2 steps of epoch 1)
ok straight blip-train "${tiny[@]}" --set max_steps=7 --val "$T/sh/val" -o "$T/a" "$T/sh/train"
exits fresh_run_refuses_old_checkpoints 1 blip-train "${tiny[@]}" --set max_steps=7 -o "$T/a" "$T/sh/train"
has config_saved "$T/a/config.json" '"max_steps": 7'
same logged_steps "$(steps "$T/a" | wc -l)" 7
has val_results "$T/a/val_epoch0.json" '"image_id": 500001'
has val_metrics "$T/a/metrics.jsonl" '"val":\{"Bleu_1"'
ok best_saved test -f "$T/a/best/model.safetensors" -a -f "$T/a/best/vocab.txt"
ok keep_last_two test "$(ls -d "$T"/a/checkpoint-* | wc -l)" = 2
ok checkpoint_complete test -f "$T/a/checkpoint-7/optimizer.bin" -a -f "$T/a/checkpoint-7/trainer_state.json"
ok no_temp_left test -z "$(ls -a "$T/a" | grep -e '^\.tmp-' -e '^\.old-')"

# interrupted at 3 (mid-epoch), resumed with a larger max_steps from the saved config
ok first_half blip-train "${tiny[@]}" --set max_steps=3 --val "$T/sh/val" -o "$T/b" "$T/sh/train"
exits resume_keeps_batch_size 1 blip-train -o "$T/b" --resume --set batch_size=4 "$T/sh/train"
ok resume blip-train -o "$T/b" --resume --set max_steps=7 --val "$T/sh/val" "$T/sh/train"
same resume_identical_losses "$(steps "$T/b")" "$(steps "$T/a")"
same resume_identical_weights "$(cmp "$T/a/checkpoint-7/model.safetensors" "$T/b/checkpoint-7/model.safetensors" && echo same)" same
same resume_identical_val "$(cmp "$T/a/val_epoch0.json" "$T/b/val_epoch0.json" && echo same)" same

# a diverging run stops naming the step and keeps its last good checkpoint
exits nan_stops 1 blip-train "${tiny[@]}" --set init_lr=1e30 --set min_lr=0 --set save_every=1 -o "$T/n" "$T/sh/train"
has nan_names_step "$T/.err" 'step [0-9]+: loss is (nan|inf|-nan)'
ok nan_keeps_checkpoint test -f "$T/n/checkpoint-1/model.safetensors"

# several SHARDS paths are one data set, joined in argument order
ok two_shard_paths blip-train "${tiny[@]}" --set max_steps=1 -o "$T/two" "$T/sh/train" "$T/sh/train"
has two_paths_pairs "$T/two/log.txt" ': 80 pairs, 10 steps/epoch'
exits missing_second_path 1 blip-train "${tiny[@]}" -o "$T/miss" "$T/sh/train" "$T/nope"
has missing_path_named "$T/.err" 'nope: no such shard file'
