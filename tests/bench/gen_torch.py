#!/usr/bin/env python3
"""HuggingFace reference timings for tests/bench/gen.sh: BLIP-base
BlipForConditionalGeneration (random weights) generate() with BLIP's caption
settings (max_length 20, min_length 5, prompt [DEC] a picture of) on BATCHES
batches of B random images. Prints the same line as gen_bench:
"B BEAMS images seconds captions-per-second mean-new-tokens".

    python3 tests/bench/gen_torch.py B BEAMS BATCHES
"""
import sys
import time

import torch
from transformers import BlipConfig, BlipForConditionalGeneration


def main():
    B, beams, batches = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.manual_seed(42)
    cfg = BlipConfig(text_config=dict(num_attention_heads=12), vision_config=dict(image_size=384))
    model = BlipForConditionalGeneration(cfg).float().eval()
    ids = torch.tensor([[30522, 1037, 3861, 1997, 102]] * B)
    g = torch.Generator().manual_seed(1)
    tokens = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(batches):
            pixels = torch.randn(B, 3, 384, 384, generator=g)
            out = model.generate(pixel_values=pixels, input_ids=ids, num_beams=beams,
                                 max_length=20, min_length=5)
            for row in out.tolist():
                n = len(row) - 4
                while n > 0 and row[3 + n] == cfg.text_config.pad_token_id:
                    n -= 1
                tokens += n
    dt = time.perf_counter() - t0
    n = B * batches
    print("%d %d %d %.3f %.4f %.1f" % (B, beams, n, dt, n / dt, tokens / n))


if __name__ == "__main__":
    main()
