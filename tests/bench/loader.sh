#!/usr/bin/env bash
# tests/bench/loader.sh - training data pipeline throughput: 640x480 JPEGs of
# photo-like size (blip-synth --noise 30) through decode, BLIP's train
# transform at 384 px (RandomResizedCrop, flip, RandomAugment), normalize and
# caption framing. For one loader thread and for all cores: images per
# wall-clock second, and images per CPU second of the process (user + system),
# the per-core figure least disturbed by other processes' load. Side by side,
# salesforce/BLIP's Python pipeline on the same JPEGs (tests/bench/loader_torch.py:
# PIL, torchvision, BLIP's RandomAugment on numpy + cv2, torch DataLoader with 0
# or nproc workers) when torch, torchvision, opencv and Pillow are installed;
# "-" otherwise. BENCH_LOADER_PY_SAMPLES (default 300) samples for it.
set -eu
cd "$(dirname "$0")/../.."
[ -x build/bench/loader_bench ] || { echo "loader.sh: build/bench/loader_bench missing: run 'make bench'" >&2; exit 1; }
export PATH="$PWD/bin:$PATH"
N=${BENCH_LOADER_IMAGES:-400}
SIZE=${BENCH_LOADER_SIZE:-384}
NPY=${BENCH_LOADER_PY_SAMPLES:-300}
have_py=0
python3 -c 'import torch, torchvision, cv2, PIL' 2>/dev/null && have_py=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
blip-synth -n "$N" --val 0 --size 640x480 --noise 30 "$T/coco"
blip-pack -o "$T/shards" "$T/coco"
vocab=${BLIP_SHARED:-../shared}/data/bert-base-uncased-vocab.txt
batches=$((N * 5 / 32)) # the whole epoch: the CPU time then counts exactly these images
echo "data loader: BLIP train transform at ${SIZE} px, 640x480 JPEGs, batch 32, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "  (C: $((batches * 32)) samples; BLIP: $NPY samples, 0 or $(nproc) DataLoader workers, one thread each)"
run() { # label, C loader threads (0: all cores), DataLoader workers
    local wall cpu pwall=- pcpu=-
    read -r wall cpu < <(build/bench/loader_bench "$T/shards" "$vocab" "$SIZE" 32 "$2" "$batches")
    if [ "$have_py" = 1 ]; then
        read -r pwall pcpu < <(OMP_NUM_THREADS=1 python3 tests/bench/loader_torch.py "$T/coco" "$SIZE" "$NPY" "$3" 2>/dev/null || echo - -)
    fi
    printf '  %-10s C: %7s images/s %7s images/CPU-s   BLIP (PIL+torchvision+cv2): %7s images/s %7s images/CPU-s\n' \
        "$1" "$wall" "$cpu" "$pwall" "$pcpu"
}
run "1 thread" 1 0
run "all cores" 0 "$(nproc)"
