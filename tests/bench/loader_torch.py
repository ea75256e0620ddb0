#!/usr/bin/env python3
"""Python reference timings for tests/bench/loader.sh: salesforce/BLIP's caption
training data pipeline (coco_karpathy_train + create_dataset's transform_train)
over a COCO directory written by blip-synth: one sample per caption, PIL
Image.open().convert('RGB'), RandomResizedCrop(SIZE, scale (0.5, 1), bicubic),
RandomHorizontalFlip, BLIP's RandomAugment(2, 5) on numpy + cv2, ToTensor,
Normalize, pre_caption with the prompt, batches of 32 through a torch
DataLoader (default collate). cv2 and torch use one thread per process.

    python3 tests/bench/loader_torch.py COCO_DIR SIZE SAMPLES WORKERS
        prints "images/s images/CPU-s" like loader_bench: SAMPLES samples,
        WORKERS DataLoader worker processes (0: all in this process); the CPU
        time is user + system of this process and its reaped workers.
    python3 tests/bench/loader_torch.py --ops SAMPLES
        RandomAugment alone on SAMPLES small images: how often each op was
        picked and applied, and the arguments it got (a check that the ops'
        distribution is BLIP's: 2 picks, uniform with replacement, p 0.5).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import collections
import json
import multiprocessing
import re
import resource
import sys
import time

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.transforms import InterpolationMode

MAX_LEVEL = 10
FILL = (128, 128, 128)
BATCH = 32
PROMPT = "a picture of "


# ---- BLIP's RandomAugment ops (transform/randaugment.py semantics) ----------

def lut_per_channel(img, table_of):
    """Applies table_of(channel) -> 256-entry uint8 table to each channel."""
    return cv2.merge([table_of(ch)[ch] for ch in cv2.split(img)])


def autocontrast(img):
    def table(ch):
        hi, lo = ch.max(), ch.min()  # numpy uint8 scalars, as in BLIP
        if hi <= lo:
            return np.arange(256).astype(np.uint8)
        scale = 255 / (hi - lo)
        with np.errstate(over="ignore"):
            t = np.arange(256) * scale + (-lo) * scale  # BLIP's -lo wraps in uint8
        return t.clip(0, 255).astype(np.uint8)
    return lut_per_channel(img, table)


def equalize(img):
    def table(ch):
        hist = cv2.calcHist([ch], [0], None, [256], [0, 256])
        used = hist[hist != 0].reshape(-1)
        step = np.sum(used[:-1]) // 255
        if step == 0:
            return np.arange(256).astype(np.uint8)
        shifted = np.empty_like(hist)
        shifted[0] = step // 2
        shifted[1:] = hist[:-1]
        return (np.cumsum(shifted) // step).clip(0, 255).astype(np.uint8)
    return lut_per_channel(img, table)


def brightness(img, factor):
    return (np.arange(256, dtype=np.float32) * factor).clip(0, 255).astype(np.uint8)[img]


def sharpness(img, factor):
    k = np.ones((3, 3), dtype=np.float32)
    k[1, 1] = 5
    blurred = cv2.filter2D(img, -1, k / 13)
    if factor == 0.0:
        return blurred
    if factor == 1.0:
        return img
    out = img.astype(np.float32)
    inner = blurred.astype(np.float32)[1:-1, 1:-1]
    out[1:-1, 1:-1] = inner + factor * (out[1:-1, 1:-1] - inner)
    return out.astype(np.uint8)


def warp(img, m):
    h, w = img.shape[:2]
    return cv2.warpAffine(img, m, (w, h), borderValue=FILL, flags=cv2.INTER_LINEAR).astype(np.uint8)


def rotate(img, degrees):
    h, w = img.shape[:2]
    return cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1), (w, h), borderValue=FILL)


def signed(v, flip):
    return -v if flip else v


# name -> (op(img, *args), args(level)); args draw their sign where BLIP does
OPS = {
    "Identity": (lambda img: img, lambda m: ()),
    "AutoContrast": (autocontrast, lambda m: ()),
    "Brightness": (brightness, lambda m: ((m / MAX_LEVEL) * 1.8 + 0.1,)),
    "Sharpness": (sharpness, lambda m: ((m / MAX_LEVEL) * 1.8 + 0.1,)),
    "Equalize": (equalize, lambda m: ()),
    "ShearX": (lambda img, f: warp(img, np.float32([[1, f, 0], [0, 1, 0]])),
               lambda m: (signed(m / MAX_LEVEL * 0.3, np.random.random() > 0.5),)),
    "ShearY": (lambda img, f: warp(img, np.float32([[1, 0, 0], [f, 1, 0]])),
               lambda m: (signed(m / MAX_LEVEL * 0.3, np.random.random() > 0.5),)),
    "TranslateX": (lambda img, d: warp(img, np.float32([[1, 0, -d], [0, 1, 0]])),
                   lambda m: (signed(m / MAX_LEVEL * 10.0, np.random.random() > 0.5),)),
    "TranslateY": (lambda img, d: warp(img, np.float32([[1, 0, 0], [0, 1, -d]])),
                   lambda m: (signed(m / MAX_LEVEL * 10.0, np.random.random() > 0.5),)),
    "Rotate": (rotate, lambda m: (signed(m / MAX_LEVEL * 30, np.random.random() < 0.5),)),
}


class RandomAugment:
    """BLIP's RandomAugment(N, M, isPIL=True, augs=OPS): N ops drawn uniformly
    with replacement, each applied with probability 0.5 at level M. log, when
    given, receives (name, applied, args) for every op drawn."""

    def __init__(self, n, m, log=None):
        self.n, self.m, self.log = n, m, log

    def __call__(self, pil):
        img = np.array(pil)
        for name in np.random.choice(list(OPS), self.n):
            applied = not np.random.random() > 0.5
            args = OPS[name][1](self.m) if applied else ()
            if self.log is not None:
                self.log(name, applied, args)
            if applied:
                img = OPS[name][0](img, *args)
        return img


# ---- coco_karpathy_train over blip-synth's COCO directory -------------------

def pre_caption(caption, max_words=30):
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")
    return " ".join(caption.split(" ")[:max_words])


class CocoTrain(Dataset):
    """One sample per caption: (image tensor 3 x SIZE x SIZE, prompt + caption)."""

    def __init__(self, coco_dir, size, samples):
        with open(os.path.join(coco_dir, "annotations", "captions_train2014.json")) as f:
            ann = json.load(f)
        files = {im["id"]: os.path.join(coco_dir, "train2014", im["file_name"]) for im in ann["images"]}
        pairs = [(files[a["image_id"]], a["caption"]) for a in ann["annotations"]]
        order = np.random.RandomState(0).permutation(len(pairs))  # the sampler's shuffle
        self.items = [pairs[order[i % len(pairs)]] for i in range(samples)]
        self.transform = transforms.Compose([
            transforms.RandomResizedCrop(size, scale=(0.5, 1.0), interpolation=InterpolationMode.BICUBIC),
            transforms.RandomHorizontalFlip(),
            RandomAugment(2, 5),
            transforms.ToTensor(),
            transforms.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
        ])

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, caption = self.items[i]
        return self.transform(Image.open(path).convert("RGB")), PROMPT + pre_caption(caption)


def cpu_seconds():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def one_thread(_worker_id=None):
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def bench(coco_dir, size, samples, workers):
    one_thread()
    data = CocoTrain(coco_dir, size, samples)
    loader = DataLoader(data, batch_size=BATCH, num_workers=workers, worker_init_fn=one_thread)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    n = sum(len(images) for images, _ in loader)  # the workers exit with the last batch
    dt = time.perf_counter() - t0
    if multiprocessing.active_children():
        sys.exit("loader_torch.py: DataLoader workers still running: their CPU time is not counted")
    cpu = cpu_seconds() - cpu0
    print(f"{n / dt:.1f} {n / cpu:.1f}")


def count_ops(samples):
    picked, applied, args = collections.Counter(), collections.Counter(), collections.defaultdict(collections.Counter)

    def log(name, done, a):
        picked[name] += 1
        applied[name] += done
        if a:
            args[name][round(a[0], 4)] += 1

    aug = RandomAugment(2, 5, log)
    img = Image.fromarray(np.random.RandomState(1).randint(0, 256, (16, 16, 3), dtype=np.uint8))
    for _ in range(samples):
        aug(img)
    print(f"{samples} samples, {sum(picked.values())} ops drawn, {sum(applied.values())} applied")
    for name in OPS:
        seen = " ".join(f"{a:+g} x{c}" for a, c in sorted(args[name].items()))
        print(f"  {name:<12} picked {picked[name]:5d}  applied {applied[name]:5d}  {seen}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--ops":
        count_ops(int(sys.argv[2]))
    elif len(sys.argv) == 5:
        bench(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
