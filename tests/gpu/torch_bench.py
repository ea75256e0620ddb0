#!/usr/bin/env python3
"""PyTorch anchor for tests/gpu/bench.c (issue 10): HuggingFace
BlipForConditionalGeneration at the same shape (BLIP-base: ViT-B/16 at
384 px + BERT-base decoder, random weights), the same batch (random pixels,
20-token captions, BLIP's label-smoothed caption loss) and settings:
bf16 autocast, fused AdamW; eager and torch.compile training steps; beam-3
generate() with BLIP's lengths (20 / 5, prompt "[DEC] a picture of").
Prints one JSON line per measurement, like bench.c.

    python3 tests/gpu/torch_bench.py [--device cuda] [--batch 32] [--gen-batch 64]
                                     [--steps 10] [--no-compile] [--tiny]

--tiny swaps in a small model (2 layers, 32 wide, 32 px) so the script can be
checked on a CPU: python3 tests/gpu/torch_bench.py --device cpu --tiny
--batch 2 --gen-batch 2 --steps 2 --no-compile
"""
import argparse
import json
import statistics
import time

import torch
from transformers import BlipConfig, BlipForConditionalGeneration

T_TOKENS = 20
PROMPT = [30522, 1037, 3861, 1997, 102]  # [DEC] a picture of [SEP]; generate() drops the [SEP]


def make_config(tiny):
    if not tiny:
        return BlipConfig(text_config=dict(num_attention_heads=12), vision_config=dict(image_size=384))
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    return BlipConfig(text_config=dict(small, encoder_hidden_size=32),
                      vision_config=dict(small, image_size=32, patch_size=16))


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device):
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device):
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_train(cfg, args, compiled):
    dev = args.device
    torch.manual_seed(42)
    model = BlipForConditionalGeneration(cfg).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.05,
                            fused=dev.startswith("cuda"))
    fwd = torch.compile(model) if compiled else model
    g = torch.Generator().manual_seed(1)
    size, vocab, B = cfg.vision_config.image_size, cfg.text_config.vocab_size, args.batch
    pixels = torch.randn(B, 3, size, size, generator=g).to(dev)
    ids = torch.randint(0, vocab, (B, T_TOKENS), generator=g)
    ids[:, 0] = cfg.text_config.bos_token_id
    ids = ids.to(dev)

    def step():
        with torch.autocast(device_type=dev.split(":")[0], dtype=torch.bfloat16):
            loss = fwd(pixel_values=pixels, input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    reset_peak(dev)
    t0 = time.perf_counter()
    for _ in range(3):  # warm-up (and compilation)
        step()
    sync(dev)
    warmup = time.perf_counter() - t0
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        sync(dev)
        times.append(time.perf_counter() - t0)
    dt = statistics.median(times)
    return {"mode": "torch_train", "variant": "compile" if compiled else "eager", "device": dev,
            "B": B, "T": T_TOKENS, "image_size": size, "steps": args.steps, "step_s": round(dt, 5),
            "samples_per_s": round(B / dt, 2), "warmup_s": round(warmup, 2),
            "peak_mem_gib": round(peak_gib(dev), 3), "loss_last": round(float(loss.detach()), 5),
            "torch": torch.__version__}


def bench_gen(cfg, args):
    dev, B = args.device, args.gen_batch
    torch.manual_seed(42)
    model = BlipForConditionalGeneration(cfg).to(dev).eval()
    size, pad = cfg.vision_config.image_size, cfg.text_config.pad_token_id
    ids = torch.tensor([PROMPT] * B, device=dev)
    g = torch.Generator().manual_seed(1)
    reset_peak(dev)
    tokens, t0 = 0, 0.0
    with torch.no_grad(), torch.autocast(device_type=dev.split(":")[0], dtype=torch.bfloat16):
        for k in range(args.gen_batches + 1):  # batch 0 warms up
            pixels = torch.randn(B, 3, size, size, generator=g).to(dev)
            sync(dev)
            if k == 1:
                t0 = time.perf_counter()
            out = model.generate(pixel_values=pixels, input_ids=ids, num_beams=3, max_length=20,
                                 min_length=5)
            if k > 0:
                for row in out.tolist():
                    n = len(row) - 4
                    while n > 0 and row[3 + n] == pad:
                        n -= 1
                    tokens += n
        sync(dev)
    dt = time.perf_counter() - t0
    n = B * args.gen_batches
    return {"mode": "torch_gen", "device": dev, "B": B, "beams": 3, "images": n,
            "seconds": round(dt, 4), "captions_per_s": round(n / dt, 2),
            "mean_new_tokens": round(tokens / n, 2), "peak_mem_gib": round(peak_gib(dev), 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--gen-batch", type=int, default=64)
    ap.add_argument("--gen-batches", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    cfg = make_config(args.tiny)
    print(json.dumps(bench_train(cfg, args, False)), flush=True)
    print(json.dumps(bench_gen(cfg, args)), flush=True)
    if not args.no_compile:  # last: compilation takes minutes
        print(json.dumps(bench_train(cfg, args, True)), flush=True)


if __name__ == "__main__":
    main()
