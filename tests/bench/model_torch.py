#!/usr/bin/env python3
"""PyTorch reference timings for tests/bench/model.sh: the same model
(BlipForConditionalGeneration from a config.json or BLIP-base), the same
batch shape, forward (no_grad) or a training step (forward + BLIP loss +
backward + AdamW). Prints "MODE B T seconds-per-iteration peak-rss-MiB".

    python3 tests/bench/model_torch.py CONFIG|base B T forward|train
"""
import resource
import sys
import time

import torch
from transformers import BlipConfig, BlipForConditionalGeneration


def main():
    cfg_arg, B, T, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if cfg_arg == "base":
        cfg = BlipConfig(text_config=dict(num_attention_heads=12),
                         vision_config=dict(image_size=384))
    else:
        cfg = BlipConfig.from_json_file(cfg_arg)
    model = BlipForConditionalGeneration(cfg).float()
    tc, vc = cfg.text_config, cfg.vision_config
    g = torch.Generator().manual_seed(1)
    pixels = torch.randn(B, 3, vc.image_size, vc.image_size, generator=g)
    ids = torch.randint(0, tc.vocab_size, (B, T), generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.05)

    def step():
        if mode == "train":
            model.train()
            opt.zero_grad()
            logits = model(pixel_values=pixels, input_ids=ids).logits
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, tc.vocab_size), ids[:, 1:].reshape(-1),
                label_smoothing=0.1)
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.no_grad():
                model(pixel_values=pixels, input_ids=ids)

    step()  # warm-up
    iters, t0 = 0, time.perf_counter()
    while iters < 2 or time.perf_counter() - t0 < 2.0:
        step()
        iters += 1
    dt = (time.perf_counter() - t0) / iters
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("%s %d %d %.4f %.0f" % (mode, B, T, dt, rss))


if __name__ == "__main__":
    main()
