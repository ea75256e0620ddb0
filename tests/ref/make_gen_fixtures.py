#!/usr/bin/env python3
"""Make the caption generation fixtures with HuggingFace transformers:
BlipForConditionalGeneration.generate() token sequences and beam scores on
the tiny random models of make_model_fixtures.py (their configs and init,
imported from it), plus an end-to-end model directory with a small word
vocabulary and the captions HF gives for blip-synth images.

    pip install torch transformers safetensors pillow
    pip install --no-deps --target T415 transformers==4.15.0
    python3 tests/ref/make_gen_fixtures.py tests/fixtures/gen T415 [BLIP_SYNTH]

Writes, under OUT:
  NAME/ (odd, wide)  model directories (config.json, model.safetensors,
                     vocab.txt); weights are scaled up and the LM-head bias
                     of [SEP] moved so that captions depend on the image and
                     end at different lengths;
  cases.json         {"images": N, "cases": [{model, prompt, beams,
                     max_length, min_length, early_stopping, length_penalty,
                     repetition_penalty, sequences [N][...] (prompt
                     included, up to and with [SEP]), scores [N] (beam
                     search sequences_scores), scores_fp64 [N] (the same
                     search with the model's forward in float64, its
                     logits cast to float32 as generate() does: the
                     sequences must not change; the gap to scores is
                     torch's own fp32 rounding, which bounds how close
                     another fp32 implementation can be), legacy (true:
                     transformers 4.15's BeamSearchScorer, the version
                     salesforce/BLIP pins, run from T415 over this model's
                     logits)}]};
  e2e/model/         a model directory whose vocab.txt has "a picture of" and
                     [DEC], image size 32;
  e2e/captions.tsv   file name<TAB>caption for blip-synth -n 0 --val 24
                     --size 64 --seed 5 images, beam 3 (BLIP's defaults) and
                     greedy (e2e/captions_greedy.tsv) and 4.15 beam 3
                     (e2e/captions_legacy.tsv), preprocessed as BLIP's
                     test transform (PIL bicubic resize, normalize).

Pixels of the tiny-model cases come from an integer hash (gen_pixels), so the
C test makes the same floats without a pixel file.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image
from transformers import BertTokenizer, BlipForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_fixtures as mm  # noqa: E402

N_IMAGES = 24
WEIGHT_SCALE = 5.0  # weights 5x larger than make_model_fixtures: the image matters
EOS_BOOST = {"odd": -2.2, "wide": 2.0, "e2e": 0.0}
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

# (name, beams, max_length, min_length, early_stopping, length_penalty, repetition_penalty)
CASES = [
    ("greedy", 1, 20, 5, False, 1.0, 1.0),
    ("greedy_min10_rep1.3", 1, 20, 10, False, 1.0, 1.3),
    ("beam3", 3, 20, 5, False, 1.0, 1.0),
    ("beam3_early", 3, 20, 5, True, 1.0, 1.0),
    ("beam3_never", 3, 20, 5, "never", 1.0, 1.0),
    ("beam3_min12", 3, 20, 12, False, 1.0, 1.0),
    ("beam3_lp0.5", 3, 20, 5, False, 0.5, 1.0),
    ("beam3_lp2_never", 3, 20, 5, "never", 2.0, 1.0),
    ("beam3_rep1.5", 3, 20, 5, False, 1.0, 1.5),
    ("beam4_max9", 4, 9, 5, False, 1.0, 1.0),
]

# transformers 4.15 beam scoring (salesforce/BLIP's version), same settings
LEGACY_CASES = [
    ("legacy_beam3", 3, 20, 5, False, 1.0, 1.0),
    ("legacy_beam3_early", 3, 20, 5, True, 1.0, 1.0),
    ("legacy_beam3_lp0.5_rep1.5", 3, 20, 5, False, 0.5, 1.5),
    ("legacy_beam4_max9", 4, 9, 5, False, 1.0, 1.0),
]

E2E_WORDS = ("a picture of red green blue circle square triangle on in the and with "
             "left right top bottom big small two three shapes background dark light").split()


def gen_pixels(n, size, img0=0):
    """[n, 3, size, size]: ((h >> 21) - 1024) / 512 with h = (i * 2654435761 +
    (img + 1) * 3928291) mod 2^32, i the index inside the image."""
    i = np.arange(3 * size * size, dtype=np.uint64)
    out = []
    for img in range(img0, img0 + n):
        h = (i * np.uint64(2654435761) + np.uint64((img + 1) * 3928291)) & np.uint64(0xFFFFFFFF)
        out.append(((h >> np.uint64(21)).astype(np.int64) - 1024).astype(np.float32) / 512)
    return torch.from_numpy(np.stack(out).reshape(n, 3, size, size))


def tiny_model(name, spec, seed):
    """make_model_fixtures' random model, weights scaled, [SEP] bias moved."""
    model = mm.build_model(spec, seed=seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if not ("LayerNorm" in n or "layer_norm" in n):
                p.mul_(WEIGHT_SCALE)
        model.text_decoder.cls.predictions.bias[spec["text"]["sep_token_id"]] += EOS_BOOST[name]
    return model.eval()


def generate(model, pixels, prompt, case):
    name, beams, max_len, min_len, early, lp, rep = case
    ids = torch.tensor([prompt + [0]] * pixels.shape[0])  # generate() drops the last id
    kw = dict(num_beams=beams, max_length=max_len, min_length=min_len, repetition_penalty=rep,
              do_sample=False, return_dict_in_generate=True, output_scores=True)
    if beams > 1:
        kw.update(early_stopping=early, length_penalty=lp)
    with torch.no_grad():
        o = model.generate(pixel_values=pixels, input_ids=ids, **kw)
    sep = model.config.text_config.sep_token_id
    pad = model.config.text_config.pad_token_id
    seqs = []
    for row in o.sequences.tolist():
        s = row[:len(prompt)]
        for t in row[len(prompt):]:
            if t == pad and (not s or s[-1] == sep):
                break
            s.append(t)
            if t == sep:
                break
        seqs.append(s)
    scores = o.sequences_scores.tolist() if beams > 1 else None
    return seqs, scores


def load_415(t415):
    """transformers 4.15's BeamSearchScorer and logits processors, loaded from
    their files without the rest of that version."""
    mods = {}
    for name in ("generation_beam_search", "generation_logits_process"):
        path = os.path.join(t415, "transformers", name + ".py")
        src = open(path).read()
        src = src.replace("from .file_utils import add_start_docstrings",
                          "add_start_docstrings = lambda *a: (lambda f: f)")
        src = src.replace("from .utils.logging import get_logger",
                          "import logging; get_logger = logging.getLogger")
        mod = type(sys)("t415_" + name)
        exec(compile(src, path, "exec"), mod.__dict__)
        mods[name] = mod
    return mods


def generate_415(m415, model, pixels, prompt, case):
    """The beam_search loop of transformers 4.15 generation_utils.py with its
    scorer and processors; logits from a full forward at every step."""
    name, K, max_len, min_len, early, lp, rep = case
    bs, lpm = m415["generation_beam_search"], m415["generation_logits_process"]
    cfg = model.config.text_config
    B = pixels.shape[0]
    scorer = bs.BeamSearchScorer(batch_size=B, num_beams=K, device=torch.device("cpu"),
                                 length_penalty=lp, do_early_stopping=early)
    procs = lpm.LogitsProcessorList([lpm.RepetitionPenaltyLogitsProcessor(penalty=rep),
                                     lpm.MinLengthLogitsProcessor(min_len, cfg.sep_token_id)])
    pix = pixels.repeat_interleave(K, dim=0)
    input_ids = torch.tensor([prompt] * (B * K))
    beam_scores = torch.zeros((B, K))
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    cur_len = input_ids.shape[-1]
    with torch.no_grad():
        while True:
            logits = model(pixel_values=pix, input_ids=input_ids).logits[:, -1, :].float()
            scores = torch.nn.functional.log_softmax(logits, dim=-1)
            scores = procs(input_ids, scores)
            scores = scores + beam_scores[:, None].expand_as(scores)
            V = scores.shape[-1]
            scores = scores.view(B, K * V)
            scores, tokens = torch.topk(scores, 2 * K, dim=1, largest=True, sorted=True)
            indices = torch.div(tokens, V, rounding_mode="floor")
            tokens = tokens % V
            o = scorer.process(input_ids, scores, tokens, indices, pad_token_id=cfg.pad_token_id,
                               eos_token_id=cfg.sep_token_id)
            beam_scores = o["next_beam_scores"]
            input_ids = torch.cat([input_ids[o["next_beam_indices"], :],
                                   o["next_beam_tokens"].unsqueeze(-1)], dim=-1)
            cur_len += 1
            if scorer.is_done or cur_len >= max_len:
                break
        f = scorer.finalize(input_ids, beam_scores, tokens, indices, pad_token_id=cfg.pad_token_id,
                            eos_token_id=cfg.sep_token_id, max_length=max_len)
    seqs = []
    for row in f["sequences"].tolist():
        s = row[:len(prompt)]
        for t in row[len(prompt):]:
            s.append(t)
            if t == cfg.sep_token_id:
                break
        seqs.append(s)
    return seqs, f["sequence_scores"].tolist()


def make_cases(out, m415):
    cases = []
    for name, spec in mm.CONFIGS.items():
        model = tiny_model(name, spec, seed=len(name))
        model.save_pretrained(os.path.join(out, name))
        mm.write_vocab(os.path.join(out, name, "vocab.txt"), spec["text"]["vocab_size"])
        pixels = gen_pixels(N_IMAGES, spec["vision"]["image_size"])
        prompt = [spec["text"]["bos_token_id"], 10, 11, 12]
        model64 = copy.deepcopy(model).double()
        for legacy, case in [(False, c) for c in CASES] + [(True, c) for c in LEGACY_CASES]:
            max_len = min(case[2], spec["text"]["max_position_embeddings"])
            case = (case[0], case[1], max_len) + case[3:]
            run = (lambda *a: generate_415(m415, *a)) if legacy else generate
            seqs, scores = run(model, pixels, prompt, case)
            lens = sorted(len(s) - len(prompt) for s in seqs)
            print("%s %s: generated lengths %s" % (name, case[0], lens))
            c = dict(model=name, name=case[0], prompt=prompt, beams=case[1], max_length=case[2],
                     min_length=case[3], early_stopping=case[4], length_penalty=case[5],
                     repetition_penalty=case[6], legacy=legacy, sequences=seqs, scores=scores)
            if scores is not None:
                seqs64, c["scores_fp64"] = run(model64, pixels.double(), prompt, case)
                assert seqs64 == seqs, "%s %s: float64 changes the captions" % (name, case[0])
                print("  fp32 - fp64 scores: max %.3g" % max(
                    abs(a - b) for a, b in zip(scores, c["scores_fp64"])))
            cases.append(c)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(dict(images=N_IMAGES, cases=cases), f, separators=(",", ":"))
        f.write("\n")


def make_e2e(out, synth, m415):
    d = os.path.join(out, "e2e", "model")
    os.makedirs(d, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + E2E_WORDS + ["[DEC]"]
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(words) + "\n")
    spec = dict(vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=2, image_size=32, patch_size=16,
                            layer_norm_eps=1e-5),
                text=dict(vocab_size=len(words), hidden_size=32, intermediate_size=64,
                          num_hidden_layers=2, num_attention_heads=2,
                          max_position_embeddings=32, layer_norm_eps=1e-12,
                          bos_token_id=len(words) - 1, sep_token_id=3, pad_token_id=0,
                          eos_token_id=3))
    model = tiny_model("e2e", spec, seed=11)
    model.save_pretrained(d)
    tok = BertTokenizer(os.path.join(d, "vocab.txt"))
    tok.add_special_tokens({"bos_token": "[DEC]"})
    prompt = [tok.bos_token_id] + tok("a picture of ", add_special_tokens=False).input_ids
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([synth, "-n", "0", "--val", "24", "--size", "64", "--seed", "5", tmp],
                       check=True)
        imdir = os.path.join(tmp, "val2014")
        names = sorted(os.listdir(imdir))
        pix = []
        for n in names:
            im = Image.open(os.path.join(imdir, n)).convert("RGB").resize((32, 32), Image.BICUBIC)
            a = (np.asarray(im, dtype=np.float32) / 255 - np.float32(MEAN)) / np.float32(STD)
            pix.append(a.transpose(2, 0, 1))
        pixels = torch.from_numpy(np.stack(pix).astype(np.float32))
    for fname, case in (("captions.tsv", ("beam3", 3, 20, 5, False, 1.0, 1.0)),
                        ("captions_greedy.tsv", ("greedy", 1, 20, 5, False, 1.0, 1.0)),
                        ("captions_legacy.tsv", ("legacy_beam3", 3, 20, 5, False, 1.0, 1.0))):
        seqs, _ = (generate_415(m415, model, pixels, prompt, case) if case[0].startswith("legacy")
                   else generate(model, pixels, prompt, case))
        print("e2e %s: %d distinct captions" % (case[0], len(set(map(tuple, seqs)))))
        with open(os.path.join(out, "e2e", fname), "w") as f:
            for n, s in zip(names, seqs):
                f.write("%s\t%s\n" % (n, tok.decode(s, skip_special_tokens=True)[len("a picture of "):]))


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    synth = sys.argv[3] if len(sys.argv) == 4 else "bin/blip-synth"
    os.makedirs(out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    m415 = load_415(sys.argv[2])
    make_cases(out, m415)
    make_e2e(out, synth, m415)
    return 0


if __name__ == "__main__":
    sys.exit(main())
