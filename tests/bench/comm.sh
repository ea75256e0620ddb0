#!/usr/bin/env bash
# tests/bench/comm.sh - data-parallel communication and training speed on
# the CPU: the gradient all-reduce of a BLIP-base-sized buffer over MPI
# (comm_bench, 2 ranks; side by side with torch.distributed's gloo when
# PyTorch is installed), then demo-config training throughput of 1 rank
# (batch 16) against 2 ranks (batch 8 each, the same global batch).
set -eu
cd "$(dirname "$0")/../.."
[ -x build/bench/comm_bench ] || { echo "comm.sh: build/bench/comm_bench missing: run 'make bench'" >&2; exit 1; }
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ITERS=${BENCH_ITERS:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "gradient all-reduce, BLIP-base size, 2 ranks on $(getconf _NPROCESSORS_ONLN) cores; per all-reduce"
printf '  %-22s %12s %10s %10s %10s\n' engine floats seconds algbw_GB/s busbw_GB/s
set -- $(mpirun --oversubscribe -np 2 build/bench/comm_bench "$ITERS")
printf '  %-22s %12s %10s %10s %10s\n' "blip mpi (staged)" "$1" "$2" "$3" "$4"
n=$1 ours=$2
if python3 -c 'import torch.distributed' 2>/dev/null; then
  set -- $(python3 tests/bench/comm_torch.py "$n" 2 "$ITERS")
  printf '  %-22s %12s %10s %10s %10s   (blip %.2fx)\n' "torch gloo" "$1" "$2" "$3" "$4" "$(echo "$2 / $ours" | bc -l)"
fi

echo "demo training (configs/demo.json), 60 steps of a global batch of 16"
bin/blip-synth -n 300 --size 48 --seed 1 "$T/syn" >/dev/null && bin/blip-pack -o "$T/sh" "$T/syn" >/dev/null
demo=(-c configs/demo.json --set max_steps=60 --set log_every=60 --set save_every=0 --set threads=1)
sps() { sed -n 's/.*"samples_per_s":\([0-9.]*\).*/\1/p' "$1/metrics.jsonl" | tail -1; }
bin/blip-train "${demo[@]}" -o "$T/one" "$T/sh/train" >/dev/null
mpirun --oversubscribe -np 2 bin/blip-train "${demo[@]}" --set batch_size=8 -o "$T/two" "$T/sh/train" >/dev/null
printf '  1 rank x 16:  %8.1f samples/s\n  2 ranks x 8:  %8.1f samples/s\n' "$(sps "$T/one")" "$(sps "$T/two")"
