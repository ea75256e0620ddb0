#!/usr/bin/env python3
"""Make the image decode and resize fixtures with Pillow (the library BLIP's
data loaders use): small images of every kind blip must read, with the RGB8
pixels Pillow's convert('RGB') gives, and Pillow resizes of a test image.

    pip install pillow numpy
    python3 tests/ref/make_image_fixtures.py tests/fixtures/image

Writes NAME.jpg / NAME.png, NAME.rgb (raw RGB8 rows) and index.txt
("NAME FILE W H" per line; resize lines: "resize FILTER SRC X0 Y0 CW CH W H OUT").
"""
import os
import sys

import numpy as np
from PIL import Image


def pattern(w, h, seed):
    """A smooth gradient with sharp edges and noise: exercises every filter tap."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    b = ((x // 5 + y // 5) % 2) * 200 + 20
    img = np.stack([r, g, b], -1).astype(np.int32) + rng.integers(-20, 21, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def main(out):
    os.makedirs(out, exist_ok=True)
    index = []
    base = pattern(37, 23, 1)
    rgb = Image.fromarray(base, "RGB")
    rgba = Image.fromarray(np.dstack([base, np.arange(37 * 23, dtype=np.uint8).reshape(23, 37)]), "RGBA")
    cases = [
        ("jpeg_rgb", "jpg", rgb, dict(quality=90)),
        ("jpeg_444", "jpg", rgb, dict(quality=95, subsampling=0)),
        ("jpeg_progressive", "jpg", rgb, dict(quality=85, progressive=True)),
        ("jpeg_gray", "jpg", rgb.convert("L"), dict(quality=90)),
        ("jpeg_cmyk", "jpg", rgb.convert("CMYK"), dict(quality=90)),
        ("png_rgb", "png", rgb, {}),
        ("png_rgba", "png", rgba, {}),
        ("png_gray", "png", rgb.convert("L"), {}),
        ("png_gray_alpha", "png", rgba.convert("LA"), {}),
        ("png_palette", "png", rgb.convert("P", palette=Image.ADAPTIVE, colors=16), {}),
        ("png_palette_trns", "png", rgb.convert("P", palette=Image.ADAPTIVE, colors=8), dict(transparency=3)),
        ("png_interlaced", "png", rgb, dict(interlace=1)),
        ("png_1bit", "png", rgb.convert("1"), {}),
    ]
    for name, ext, im, kw in cases:
        path = os.path.join(out, f"{name}.{ext}")
        if ext == "png" and kw.get("interlace"):
            # Pillow cannot write interlaced PNGs; write Adam7 through numpy-free zlib.
            write_interlaced_png(path, np.asarray(im))
        else:
            im.save(path, **kw)
        dec = np.asarray(Image.open(path).convert("RGB"))
        dec.tofile(os.path.join(out, f"{name}.rgb"))
        index.append(f"{name} {name}.{ext} {dec.shape[1]} {dec.shape[0]}")
    # 16-bit RGB PNG: Pillow keeps the high byte of each sample.
    deep = (base.astype(np.uint16) << 8) | (255 - base.astype(np.uint16))
    path = os.path.join(out, "png_rgb16.png")
    write_png16(path, deep)
    dec = np.asarray(Image.open(path).convert("RGB"))
    dec.tofile(os.path.join(out, "png_rgb16.rgb"))
    index.append(f"png_rgb16 png_rgb16.png {dec.shape[1]} {dec.shape[0]}")

    src = pattern(61, 47, 2)
    Image.fromarray(src).save(os.path.join(out, "resize_src.png"))
    filters = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}
    boxes = [(0, 0, 61, 47), (5, 3, 40, 30)]
    # Pillow 13 may run the vertical pass first when the height shrinks much
    # more than the width (Pillow PR 9549); earlier Pillow, and blip, always
    # run the horizontal pass first. These sizes avoid that case.
    sizes = [(16, 11), (30, 47), (61, 40), (97, 80), (150, 120), (7, 9)]
    for fname, f in filters.items():
        for (x0, y0, cw, ch) in boxes:
            for (w, h) in sizes:
                im = Image.fromarray(src).crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), f)
                outname = f"resize_{fname}_{x0}_{y0}_{w}x{h}.rgb"
                np.asarray(im).tofile(os.path.join(out, outname))
                index.append(f"resize {fname} resize_src.png {x0} {y0} {cw} {ch} {w} {h} {outname}")
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("\n".join(index) + "\n")


def png_chunk(tag, data):
    import struct
    import zlib
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)


def write_png(path, ihdr, raw):
    import zlib
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
                png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def write_png16(path, a):
    import struct
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    write_png(path, struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0), raw)


def write_interlaced_png(path, a):
    import struct
    h, w, _ = a.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        raw += b"".join(b"\x00" + sub[y].tobytes() for y in range(sub.shape[0]))
    write_png(path, struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1), raw)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/image")
