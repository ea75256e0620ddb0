#!/usr/bin/env python3
"""Make the BLIP model parity fixtures with HuggingFace transformers: tiny
random BlipForConditionalGeneration models (no download), a padded batch, the
logits, BLIP's caption loss, every parameter gradient and the losses of 10
AdamW steps; plus bicubic position-embedding resampling cases.

    pip install torch transformers safetensors
    python3 tests/ref/make_model_fixtures.py tests/fixtures/model
    python3 tests/ref/make_model_fixtures.py --check-saved tests/fixtures/model/odd DIR

For each config NAME it writes NAME/model/ (config.json, model.safetensors,
vocab.txt: a model directory), NAME/batch.safetensors (pixels [B,3,H,W] f32,
input_ids, attention_mask, labels [B,T] i32) and NAME/expected.safetensors:
  logits [B,T,V], loss [1] (BLIP: logits[:, :-1] vs labels[:, 1:], label
  smoothing 0.1, mean over counted tokens), grad.<param> for every parameter,
  adamw_losses [10] (loss before each of 10 AdamW steps), logits_after
  [B,T,V] (after those steps).
--check-saved loads a model directory written by the C code (the unit test
test_model writes one after the same 10 steps when BLIP_SAVE_DIR is set) with
from_pretrained and compares its logits to logits_after.

Dropout is 0 everywhere; labels are input_ids with padding and the first 4
(prompt) positions set to -100, like salesforce/BLIP's train captioner.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import BlipConfig, BlipForConditionalGeneration

PROMPT_LEN = 4
SMOOTHING = 0.1
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
STEPS = 10

CONFIGS = {
    # odd sizes: 3 heads of 16, image 48 with patch 16, 3 text layers
    "odd": dict(
        vision=dict(hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                    num_attention_heads=3, image_size=48, patch_size=16, layer_norm_eps=1e-5),
        text=dict(vocab_size=67, hidden_size=48, intermediate_size=72, num_hidden_layers=3,
                  num_attention_heads=3, max_position_embeddings=24, layer_norm_eps=1e-12,
                  bos_token_id=64, sep_token_id=3, pad_token_id=0, eos_token_id=3),
        lengths=[9, 6, 7]),
    # vision wider than text (cross-attention K/V 64 -> 32), salesforce eps 1e-6,
    # a [PAD] id inside a caption (attended to; nn.Embedding(padding_idx) gives
    # its word embedding row no gradient from it)
    "wide": dict(inner_pad=True,
        vision=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, image_size=64, patch_size=16, layer_norm_eps=1e-6),
        text=dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, max_position_embeddings=16, layer_norm_eps=1e-12,
                  bos_token_id=48, sep_token_id=2, pad_token_id=0, eos_token_id=2),
        lengths=[8, 5]),
}

# A bf16 checkpoint made for 32 px images (2x2 patches) run at 48 px (3x3):
# HF's interpolate_pos_encoding=True resamples the position embedding with the
# same bicubic interpolation BLIP applies when loading 224 px weights at 384.
RESAMPLE = dict(
    vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, image_size=32, patch_size=16, layer_norm_eps=1e-6),
    text=dict(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
              num_attention_heads=2, max_position_embeddings=16, layer_norm_eps=1e-12,
              bos_token_id=38, sep_token_id=2, pad_token_id=0, eos_token_id=2),
    lengths=[6, 4], run_size=48)

# (grid h, grid w, out h, out w, channels)
INTERP_CASES = [(3, 3, 5, 5, 4), (4, 4, 6, 6, 3), (2, 2, 3, 3, 2), (5, 5, 3, 3, 2)]


def blip_loss(logits, labels):
    v = logits.shape[-1]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1),
        ignore_index=-100, label_smoothing=SMOOTHING)


def build_model(spec, seed):
    torch.manual_seed(seed)
    cfg = BlipConfig(text_config=dict(spec["text"], hidden_dropout_prob=0.0,
                                      attention_probs_dropout_prob=0.0),
                     vision_config=dict(spec["vision"], attention_dropout=0.0))
    model = BlipForConditionalGeneration(cfg).float()
    # Random everything (HF's init leaves norms at 1/0 and the vision
    # embeddings near 0, which would hide mistakes).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or "post_layernorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    return model


def make_batch(spec, seed):
    g = torch.Generator().manual_seed(seed)
    t, v = spec["text"], spec["vision"]
    lengths = spec["lengths"]
    B, T = len(lengths), max(lengths)
    pixels = torch.randn(B, 3, v["image_size"], v["image_size"], generator=g)
    ids = torch.randint(5, t["vocab_size"] - 3, (B, T), generator=g)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, 0] = t["bos_token_id"]
        ids[b, n - 1] = t["sep_token_id"]
        ids[b, n:] = t["pad_token_id"]
        mask[b, :n] = 1
    if spec.get("inner_pad"):
        ids[0, 2] = t["pad_token_id"]
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :PROMPT_LEN] = -100
    return pixels, ids, mask, labels


def forward(model, pixels, ids, mask):
    return model(pixel_values=pixels, input_ids=ids, attention_mask=mask).logits


def write_vocab(path, n):
    words = ["[PAD]", "[unused0]", "[UNK]", "[SEP]", "[CLS]"]
    words += ["tok%d" % i for i in range(n - len(words))]
    with open(path, "w") as f:
        f.write("\n".join(words[:n]) + "\n")


def make_config(name, spec, out):
    d = os.path.join(out, name)
    model = build_model(spec, seed=len(name))
    model.save_pretrained(os.path.join(d, "model"))
    write_vocab(os.path.join(d, "model", "vocab.txt"), spec["text"]["vocab_size"])
    pixels, ids, mask, labels = make_batch(spec, seed=7)
    save_file({"pixels": pixels.contiguous(), "input_ids": ids.int(),
               "attention_mask": mask.int(), "labels": labels.int()},
              os.path.join(d, "batch.safetensors"))

    model.train()  # dropout is 0, so train == eval numerically
    logits = forward(model, pixels, ids, mask)
    loss = blip_loss(logits, labels)
    loss.backward()
    exp = {"logits": logits.detach().contiguous(), "loss": loss.detach().reshape(1)}
    for n, p in model.named_parameters():
        exp["grad." + n] = p.grad.detach().clone().contiguous()

    model.zero_grad()
    opt = torch.optim.AdamW(model.parameters(), **ADAMW)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        l = blip_loss(forward(model, pixels, ids, mask), labels)
        l.backward()
        opt.step()
        losses.append(l.item())
    with torch.no_grad():
        exp["logits_after"] = forward(model, pixels, ids, mask).contiguous()
    exp["adamw_losses"] = torch.tensor(losses, dtype=torch.float32)
    save_file(exp, os.path.join(d, "expected.safetensors"))
    print("%s: loss %.6f, adamw %s" % (name, loss.item(), " ".join("%.5f" % x for x in losses)))


def make_resample(out):
    d = os.path.join(out, "resample")
    spec = RESAMPLE
    model = build_model(spec, seed=11).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.bfloat16().float())
    model.to(torch.bfloat16).save_pretrained(os.path.join(d, "model"))
    model.float()
    run = dict(spec, vision=dict(spec["vision"], image_size=spec["run_size"]))
    pixels, ids, mask, labels = make_batch(run, seed=5)
    with torch.no_grad():
        logits = model(pixel_values=pixels, input_ids=ids, attention_mask=mask,
                       interpolate_pos_encoding=True).logits
    save_file({"pixels": pixels.contiguous(), "input_ids": ids.int(),
               "attention_mask": mask.int(), "labels": labels.int()},
              os.path.join(d, "batch.safetensors"))
    save_file({"logits": logits.contiguous()}, os.path.join(d, "expected.safetensors"))


def make_interp(out):
    g = torch.Generator().manual_seed(3)
    tensors = {}
    for i, (gh, gw, oh, ow, c) in enumerate(INTERP_CASES):
        grid = torch.randn(1, gh * gw + 1, c, generator=g)   # class entry + grid
        patch = grid[:, 1:].reshape(1, gh, gw, c).permute(0, 3, 1, 2)
        res = torch.nn.functional.interpolate(patch, size=(oh, ow), mode="bicubic",
                                              align_corners=False)
        res = res.permute(0, 2, 3, 1).reshape(1, oh * ow, c)
        tensors["in.%d" % i] = grid.contiguous()
        tensors["out.%d" % i] = torch.cat([grid[:, :1], res], 1).contiguous()
    save_file(tensors, os.path.join(out, "interp.safetensors"))


def check_saved(fixture_dir, saved_dir):
    model = BlipForConditionalGeneration.from_pretrained(saved_dir).float()
    b = load_file(os.path.join(fixture_dir, "batch.safetensors"))
    exp = load_file(os.path.join(fixture_dir, "expected.safetensors"))["logits_after"]
    with torch.no_grad():
        got = forward(model, b["pixels"], b["input_ids"].long(), b["attention_mask"].long())
    err = ((got - exp).abs().max() / exp.abs().max()).item()
    print("from_pretrained(%s): logits max rel err %.3g" % (saved_dir, err))
    return 0 if err < 1e-5 else 1


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check-saved":
        return check_saved(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    for name, spec in CONFIGS.items():
        make_config(name, spec, out)
    make_resample(out)
    make_interp(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
