#!/usr/bin/env python3
"""Make the augmentation fixtures from salesforce/BLIP's own RandomAugment ops
(transform/randaugment.py, which uses OpenCV and numpy).

    pip install opencv-python-headless numpy pillow
    git clone https://github.com/salesforce/BLIP /tmp/BLIP
    python3 tests/ref/make_augment_fixtures.py /tmp/BLIP tests/fixtures/augment

Writes src.png (the input), OP_ARG.rgb (raw RGB8 after BLIP's op with that
argument), index.txt ("OP ARG FILE" per line) and normalize.f32 (ToTensor +
Normalize of src as float32 [3, H, W], computed as torchvision does).
"""
import os
import sys

import numpy as np
from PIL import Image


def main(blip, out):
    sys.path.insert(0, blip)
    from transform import randaugment as ra  # BLIP's code, not a copy

    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(5)
    h, w = 47, 61
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 4) % 256, 30 + (y * 3) % 200, 60 + ((x + y) % 7) * 20], -1)
    img = np.clip(img + rng.integers(-10, 11, (h, w, 3)), 0, 255).astype(np.uint8)
    img[..., 0][img[..., 0] == img[..., 0].min()] = 0  # red reaches 0: its autocontrast stretches
    Image.fromarray(img).save(os.path.join(out, "src.png"))
    fill = (128, 128, 128)
    cases = [
        ("Identity", 0.0, lambda a: ra.identity_func(img)),
        ("AutoContrast", 0.0, lambda a: ra.autocontrast_func(img)),
        ("Equalize", 0.0, lambda a: ra.equalize_func(img)),
    ]
    for f in (1.0, 0.4, 1.6):
        cases.append(("Brightness", f, lambda a: ra.brightness_func(img, a)))
    for f in (1.0, 0.3, 1.7):
        cases.append(("Sharpness", f, lambda a: ra.sharpness_func(img, a)))
    for f in (0.15, -0.15):
        cases.append(("ShearX", f, lambda a: ra.shear_x_func(img, a, fill)))
        cases.append(("ShearY", f, lambda a: ra.shear_y_func(img, a, fill)))
    for f in (5.0, -5.0, 2.5):
        cases.append(("TranslateX", f, lambda a: ra.translate_x_func(img, a, fill)))
        cases.append(("TranslateY", f, lambda a: ra.translate_y_func(img, a, fill)))
    for f in (15.0, -15.0, 37.5):
        cases.append(("Rotate", f, lambda a: ra.rotate_func(img, a, fill)))
    # the level_to_args values BLIP's RandomAugment(2, 5) passes
    assert ra.enhance_level_to_args(10)(5) == (1.0,)
    index = []
    for name, arg, fn in cases:
        res = np.ascontiguousarray(fn(arg), dtype=np.uint8)
        fname = f"{name}_{arg:g}.rgb"
        res.tofile(os.path.join(out, fname))
        index.append(f"{name} {arg!r} {fname}")
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("\n".join(index) + "\n")
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32).reshape(3, 1, 1)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32).reshape(3, 1, 1)
    t = img.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    ((t - mean) / std).astype(np.float32).tofile(os.path.join(out, "normalize.f32"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/augment")
