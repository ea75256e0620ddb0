#!/usr/bin/env python3
"""Make the real-photo preprocessing fixtures: photographs from
scikit-image's data directory (public domain / CC0, see LICENSE.md in the
output), cropped at odd sizes and JPEG-encoded by Pillow at typical
qualities, and the pixels BLIP's test transform gives them: Pillow
Image.convert('RGB').resize((S, S), BICUBIC), the same uint8 values HF's
BlipImageProcessor (its PIL backend) rescales and normalizes (checked here).

    pip install scikit-image pillow transformers
    python3 tests/ref/make_photo_fixtures.py tests/fixtures/photos

Writes, under OUT:
  NAME.jpg       the input photo;
  NAME.S.png     the expected S x S RGB pixels (PNG, lossless);
  index.txt      "NAME.jpg S NAME.S.png" per case.
Outputs of 384 (BLIP's caption model) where the photo is upscaled or only
slightly shrunk, 224 (BLIP's pretraining size) where it shrinks a lot,
which keeps the PNGs small.
"""
import io
import os
import sys

import numpy as np
import skimage.data as data
from PIL import Image
from transformers import BlipImageProcessor

# name, photo, crop box (x0, y0, x1, y1) or None, JPEG quality, subsampling
# (Pillow: 0 = 4:4:4, 2 = 4:2:0), progressive, output size
CASES = [
    ("chelsea_q90", "chelsea", None, 90, 2, False, 384),           # 451x300: w shrinks, h grows
    ("coffee_crop_q75", "coffee", (117, 53, 380, 230), 75, 2, False, 384),  # 263x177 grows
    ("astronaut_q95_444", "astronaut", (41, 17, 362, 398), 95, 0, False, 224),  # 321x381 shrinks
    ("rocket_strip_q85_prog", "rocket", (301, 0, 452, 427), 85, 2, True, 224),  # 151x427: tall
    ("rocket_band_q80", "rocket", (0, 170, 640, 313), 80, 2, False, 224),  # 640x143: wide
]

LICENSE = """# Photo fixtures: sources and licences

Cropped and JPEG-encoded by tests/ref/make_photo_fixtures.py from the
photographs shipped in scikit-image's `skimage/data` (scikit-image 0.26):

- chelsea (Chelsea the cat): CC0, photographer Stefan van der Walt.
- coffee (coffee cup, courtesy of Pikolo Espresso Bar): CC0, photographer
  Rachel Michetti.
- astronaut (Eileen Collins, NASA Great Images database): public domain,
  no known copyright restrictions.
- rocket (DSCOVR launch on Falcon 9, SpaceX): released into the public
  domain by SpaceX.

The *.S.png files are Pillow's bicubic resize of the decoded inputs.
"""


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    index = []
    for name, photo, box, quality, subsampling, progressive, size in CASES:
        im = Image.fromarray(getattr(data, photo)())
        if box:
            im = im.crop(box)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality, subsampling=subsampling, progressive=progressive)
        jpg = name + ".jpg"
        with open(os.path.join(out, jpg), "wb") as f:
            f.write(buf.getvalue())
        src = Image.open(os.path.join(out, jpg)).convert("RGB")
        want = src.resize((size, size), Image.BICUBIC)
        hf = BlipImageProcessor(size={"height": size, "width": size}, do_rescale=False,
                                do_normalize=False)(src, return_tensors="np")["pixel_values"][0]
        assert np.array_equal(hf.transpose(1, 2, 0), np.asarray(want)), name + ": HF != PIL"
        png = "%s.%d.png" % (name, size)
        want.save(os.path.join(out, png), optimize=True)
        index.append("%s %d %s" % (jpg, size, png))
        print("%s: %dx%d q%d -> %d, %d + %d bytes" % (name, src.width, src.height, quality, size,
                                                   len(buf.getvalue()),
                                                   os.path.getsize(os.path.join(out, png))))
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("\n".join(index) + "\n")
    with open(os.path.join(out, "LICENSE.md"), "w") as f:
        f.write(LICENSE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
