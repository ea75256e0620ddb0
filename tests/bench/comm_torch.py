# tests/bench/comm_torch.py - the PyTorch anchor for comm_bench: the same
# all-reduce (a BLIP-base-sized float32 gradient, summed over RANKS processes
# with torch.distributed's gloo backend on CPU, as DDP would, then scaled)
# timed the same way. Prints "floats seconds algbw_GBps busbw_GBps".
#   python3 tests/bench/comm_torch.py FLOATS RANKS ITERS
import os, sys, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def run(rank, n, world, iters, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    x = torch.ones(n, dtype=torch.float32)

    def step():
        dist.all_reduce(x)
        x.mul_(1.0 / world)

    step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    dist.barrier()
    t = (time.perf_counter() - t0) / iters
    assert bool((x[::4099] == 1).all())
    if rank == 0:
        b = n * 4
        print(f"{n} {t:.4f} {b / t / 1e9:.3f} {2 * (world - 1) / world * b / t / 1e9:.3f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    n, world, iters = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    mp.spawn(run, args=(n, world, iters, 29500 + os.getpid() % 1000), nprocs=world)
