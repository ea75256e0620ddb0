#!/usr/bin/env bash
# tests/cli/train_dp.sh - data-parallel blip-train over MPI (CPU): 2 ranks x
# batch 4 train as 1 rank x batch 8 (same losses within 1e-5 over 20 steps,
# same validation captions), resume with another rank count or accumulation
# (same losses), the device buffers only through the backend (cpu-strict),
# gradients reduced in buckets during the backward pass and ZeRO-1 giving
# bit-identical losses and checkpoints (the sum of 2 ranks' values is the
# same in any order), resume across ZeRO on/off,
# a killed or hung rank ends the job with an error in bounded time, and the
# launch errors.
. "$(dirname "$0")/lib.sh"

export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi2=(timeout 120 mpirun --oversubscribe -np 2)
blip-synth -n 16 --val 12 --size 32 --seed 3 "$T/syn" && blip-pack -o "$T/sh" "$T/syn" >/dev/null
# 16 images x 5 captions / global batch 8 = 10 steps per epoch; 20 steps cross an epoch end
tiny=(-c configs/demo.json --set image_size=32 --set log_every=1 --set max_steps=20 --set save_every=0
      --set vision_width=32 --set vision_mlp=64 --set text_width=32 --set text_mlp=64 --set threads=1)
losses() { sed -n 's/.*"loss":\([^,]*\),.*/\1/p' "$1/metrics.jsonl"; }
# close NAME RUN_A RUN_B: same number of logged losses, each within 1e-5
close() {
  local d
  d=$(paste <(losses "$2") <(losses "$3") | awk 'NF != 2 { print "missing"; exit }
      { d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { if (NR != 20) print "steps " NR; else print m }')
  if awk -v d="$d" 'BEGIN { exit !(d ~ /^[0-9.e+-]+$/ && d + 0 <= 1e-5) }'; then pass "$1"; else fail "$1" "max difference $d"; fi
}
# identical NAME RUN_A RUN_B: the same losses to the last bit, and the same
# weights and optimizer state in the last checkpoint
identical() {
  local c=checkpoint-20 f
  if [ -z "$(losses "$2")" ] || [ "$(losses "$2")" != "$(losses "$3")" ]; then fail "$1" "losses differ"; return; fi
  for f in model.safetensors optimizer.bin; do
    cmp -s "$2/$c/$f" "$3/$c/$f" || { fail "$1" "$c/$f differs"; return; }
  done
  pass "$1"
}
# rank_pid RUN RANK: the process of that rank of the job writing RUN
rank_pid() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "$1 " || continue
    { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" || continue
    case $(cat "$p/comm" 2>/dev/null) in blip-train*) echo "${p#/proc/}"; return 0 ;; esac
  done
  return 1
}

ok one_rank blip-train "${tiny[@]}" --set batch_size=8 --val "$T/sh/val" -o "$T/one" "$T/sh/train"
ok two_ranks "${mpi2[@]}" blip-train "${tiny[@]}" --set batch_size=4 --val "$T/sh/val" -o "$T/two" "$T/sh/train"
close two_ranks_same_losses "$T/one" "$T/two"
same two_ranks_same_val "$(cmp "$T/one/val_epoch1.json" "$T/two/val_epoch1.json" && echo same)" same
has two_ranks_val_scored "$T/two/metrics.jsonl" '"epoch":1,"val":\{"Bleu_1"'
has rank0_logs_the_job "$T/two/log.txt" 'steps/epoch of 8 samples.*mpi \(mpirun\), rank 0 of 2'
has global_batch_saved "$T/two/checkpoint-20/trainer_state.json" '"global_batch": 8'

# the gradients in 261 buckets of 262 floats (smaller than the text
# embeddings, so one started before the embedding pass added to them would
# show) started as the backward pass finishes them, against all reduced
# after it; and ZeRO-1 (2 shards of 34128 floats, the pieces of the buckets
# reduced to their owners)
two=("${mpi2[@]}" blip-train "${tiny[@]}" --set batch_size=4)
ok overlap_small_buckets "${two[@]}" --overlap on --bucket-mb 0.001 -o "$T/ov" "$T/sh/train"
has overlap_logged "$T/ov/log.txt" '0.001 MiB buckets overlapped with the backward pass'
ok no_overlap "${two[@]}" --overlap off -o "$T/no" "$T/sh/train"
has no_overlap_by_default_on_mpi "$T/two/log.txt" '25 MiB buckets after the backward pass'
identical overlap_bit_identical "$T/no" "$T/ov"
identical overlap_same_as_with_validation "$T/two" "$T/ov"
ok zero1 "${two[@]}" --zero 1 --overlap on --bucket-mb 0.001 -o "$T/z" "$T/sh/train"
has zero1_logged "$T/z/log.txt" 'rank 0 of 2, .*ZeRO-1'
identical zero1_bit_identical "$T/no" "$T/z"
ok zero1_no_overlap "${two[@]}" --zero 1 -o "$T/zn" "$T/sh/train"
identical zero1_no_overlap_bit_identical "$T/no" "$T/zn"
exits bad_zero 2 blip-train "${tiny[@]}" --zero 2 -o "$T/e" "$T/sh/train"
exits bad_bucket 2 blip-train "${tiny[@]}" --bucket-mb 0 -o "$T/e" "$T/sh/train"
exits bad_overlap 2 blip-train "${tiny[@]}" --overlap yes -o "$T/e" "$T/sh/train"

# 2 ranks (device buffers only through the backend) to step 10, then 1 rank
# accumulating 2 batches of 4; and 1 rank to step 10, then 2 ranks
ok half_two_strict "${mpi2[@]}" blip-train "${tiny[@]}" --device cpu-strict --set batch_size=4 --set max_steps=10 \
  -o "$T/r2" "$T/sh/train"
exits resume_needs_global_batch 1 blip-train -o "$T/r2" --resume --set max_steps=20 "$T/sh/train"
has resume_global_batch_message "$T/.err" 'global batch of 8 .* batch_size 4 x 1 ranks x accum_steps 1 = 4'
ok resume_one_rank_accum blip-train -o "$T/r2" --resume --set max_steps=20 --set accum_steps=2 "$T/sh/train"
close resume_one_rank_same_losses "$T/one" "$T/r2"
# the same from a ZeRO-1 checkpoint (rank 0 gathered the moments)
ok half_two_zero1 "${mpi2[@]}" blip-train "${tiny[@]}" --device cpu-strict --zero 1 --set batch_size=4 \
  --set max_steps=10 -o "$T/rz" "$T/sh/train"
ok resume_zero1_one_rank blip-train -o "$T/rz" --resume --set max_steps=20 --set accum_steps=2 "$T/sh/train"
identical resume_from_zero1_bit_identical "$T/r2" "$T/rz"
ok half_one blip-train "${tiny[@]}" --set batch_size=8 --set max_steps=10 -o "$T/r1" "$T/sh/train"
cp -r "$T/r1" "$T/r1z"
ok resume_two_ranks "${mpi2[@]}" blip-train -o "$T/r1" --resume --set max_steps=20 --set batch_size=4 "$T/sh/train"
close resume_two_ranks_same_losses "$T/one" "$T/r1"
# and resumed with ZeRO-1 (rank 0 scatters the moments)
ok resume_two_ranks_zero1 "${mpi2[@]}" blip-train -o "$T/r1z" --resume --zero 1 --set max_steps=20 \
  --set batch_size=4 "$T/sh/train"
identical resume_zero1_bit_identical "$T/r1" "$T/r1z"

# failures: a killed rank ends the job; a stopped one trips the others' watchdog
long=("${tiny[@]}" --set batch_size=4 --set max_steps=1000000 --set max_epoch=100000)
fails_within() { # NAME SECONDS RUN SIGNAL ARGS...: start the job, signal rank 1, expect a failed exit in time
  local n=$1 limit=$2 run=$3 sig=$4 pid t0 rc; shift 4
  "${mpi2[@]}" blip-train "${long[@]}" "$@" -o "$run" "$T/sh/train" >"$T/.out" 2>"$T/.err" &
  local job=$!
  for _ in $(seq 100); do [ -s "$run/metrics.jsonl" ] && break; sleep 0.1; done
  pid=$(rank_pid "$run" 1) || { fail "$n" "rank 1 not found"; kill "$job"; wait "$job"; return; }
  t0=$SECONDS
  kill "-$sig" "$pid"
  wait "$job"; rc=$?
  kill -KILL "$pid" 2>/dev/null
  if [ "$rc" != 0 ] && [ $((SECONDS - t0)) -le "$limit" ]; then pass "$n"; else fail "$n" "exit $rc after $((SECONDS - t0)) s"; fi
}
fails_within killed_rank_ends_job 20 "$T/k" KILL
has killed_rank_named "$T/.err" 'rank 1 .*(signal 9|Killed)'
fails_within hung_rank_times_out 20 "$T/h" STOP --comm-timeout 2
has hung_rank_message "$T/.err" 'rank 0 of 2: (all-reduce of (gradients|scalars)|broadcast|barrier|joining the job) did not complete within 2 s'

# launch errors
exits torchrun_env_needs_mpi_on_cpu 1 env RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 blip-train "${tiny[@]}" -o "$T/e" "$T/sh/train"
has torchrun_env_message "$T/.err" 'launch with mpirun -np 2'
exits gpus_need_cuda_device 2 blip-train "${tiny[@]}" --gpus 2 --device cpu -o "$T/e" "$T/sh/train"
exits nccl_needs_gpu 1 blip-train "${tiny[@]}" --comm nccl -o "$T/e" "$T/sh/train"
exits bad_comm 2 blip-train "${tiny[@]}" --comm tcp -o "$T/e" "$T/sh/train"
