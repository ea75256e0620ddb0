#!/usr/bin/env python3
"""Make the caption-metric fixtures with the real pycocoevalcap (PyPI), whose
tokenizer runs the Stanford CoreNLP 3.4.1 PTBTokenizer jar it ships (needs java).

    pip install pycocoevalcap
    python3 tests/ref/make_score_fixtures.py tests/fixtures/score [../shared]

Writes:
  ptb.json        {"groups": [{"captions": [...], "tokenized": [...]}]}: each
                  group is one pycocoevalcap tokenize() call over its captions
                  (joined into one file, as COCOEvalCap does), "tokenized" the
                  caption it gives back for each (null when the output had no
                  line left for it). Group 0 holds 5,000 caption-like strings;
                  group 1 captions with line-breaking characters, which shift
                  the lines of the captions after them.
  demo_scores.json  per-image Bleu_1..4, ROUGE_L, CIDEr of pycocoevalcap on
                  the shared coco-caption demo (refs.json, results.json), in
                  evaluation order, and the corpus scores.
  synth_refs.json, synth_results.json, synth_scores.json: a synthetic set with
                  raw (untokenized) captions and the same scores.
  edge_refs.json, edge_results.json, edge_scores.json: empty, punctuation-only
                  and repeated captions.
"""
import contextlib
import io
import json
import os
import random
import sys

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from pycocotools.coco import COCO

SUBJECTS = ["a man", "A woman", "two dogs", "the cat", "a group of people", "Three kids",
            "an old bus", "a young girl", "the baseball player", "a plate of food",
            "a red fire hydrant", "people", "a train", "a giraffe", "an elephant",
            "a little boy", "a black and white photo", "A person", "a pizza", "the sheep"]
VERBS = ["is sitting on", "standing next to", "riding", "holding", "eating", "looking at",
         "walking down", "parked in front of", "flying over", "lying on", "playing with",
         "sits near", "are on", "waiting at", "jumping over"]
OBJECTS = ["a bench", "the street", "a wooden table", "a surfboard", "the beach", "a kite",
           "a tennis racket", "a skateboard", "a large clock tower", "the snow", "a laptop",
           "a kitchen counter", "a grassy field", "the ocean", "a city sidewalk", "some trees"]

# Phenomena from the issue and REFERENCE.md: contractions, possessives, quotes,
# dashes, ellipses, abbreviations, numbers, brackets, symbols, unicode, spaces.
PIECES = [
    # contractions and assimilations
    "don't", "Don't", "can't", "won't", "isn't", "it's", "It's", "they're", "we've", "I'll",
    "I'd", "I'm", "let's", "y'all", "o'clock", "ma'am", "rock 'n' roll", "'em", "'90s",
    "gonna", "gotta", "wanna", "lemme", "gimme", "cannot", "'tis", "'twas", "doesn't",
    "couldn't", "shouldn't", "ain't", "you'll", "she's", "he'd", "what's", "there's",
    "don\u2019t", "it\u2019s", "can\u2019t", "O'Neil", "o'neil", "D'Angelo", "rock'n'roll",
    "c'mon", "li'l", "ol'", "nothin'", "cont'd", "e'er", "ev'ry", "n't", "'s", "'ll",
    # possessives
    "man's", "dogs'", "James's", "children's", "people's", "McDonald's", "the Smiths'",
    "cat\u2019s", "boys'", "it's", "Mom's", "the bus's",
    # quotes
    "\"hello\"", "'hi'", "\u201ccurly\u201d", "\u2018single\u2019", "``latex''", "\"", "'",
    "\"a sign\" that", "'STOP'", "\u00abguillemets\u00bb", "\"quoted.\"", "'tis \"so\"",
    "said \"yes!\"", "\"3\"", "\"$5\"", "\u201e low", "\u2039a\u203a",
    # dashes
    "-", "--", "---", "----", "\u2013", "\u2014", "\u2015", "well-lit", "3-year-old",
    "black-and-white", "x-ray", "T-shirt", "e-mail", "-5", "+3", "5-6", "a - b", "self -",
    "pro-", "anti-war", "anti-", "re-enter", "co-ed", "--word", "word--", "two-by-four",
    "mid-1990s", "U-turn", "A-frame", "left--right", "half\u2013time", "wi-fi", "_",
    "__init__", "snake_case", "&mdash;", "&ndash;",
    # ellipses
    "...", ". . .", "\u2026", "....", ".....", "wait...", "so\u2026", "..", "end.", "end..",
    # abbreviations
    "u.s.", "U.S.", "mr.", "Mr.", "Mrs. Smith", "Dr. Who", "st.", "St. Louis", "a.m.",
    "p.m.", "A.M.", "etc.", "etc", "vs.", "vs", "jr.", "Jr.", "Inc.", "Co.", "co. ltd",
    "e.g.", "i.e.", "no. 5", "No. 1", "fig. 2", "ca. 1990", "Calif.", "Jan. 5", "Sept. 11",
    "Mt. Fuji", "Ave.", "Blvd.", "D.C.", "U.K.", "N.Y.", "L.A.", "a.", "I.", "Ph.D.",
    "approx.", "Fla.", "Mass.", "Tex.", "Wash.", "Ore.", "Pa.", "Ltd.", "Corp.", "Bros.",
    "tel.", "est.", "sq.", "al.", "et al.", "Gov.", "Sen.", "Prof.", "Capt.", "Sgt.", "Rev.",
    "u.s.a.", "U.S.A", "t.v.", "tv.", "Feb.", "Mon.", "Fri.", "Sat.", "Sun.", "Dec.",
    # numbers
    "3.5", "1,000", "10:30", "3/4", "1 1/2", "1-1/2", "1990s", "2nd", "1st", "3rd", "100%",
    "50 %", ".5", "0.25", "12/25/2010", "1/1/99", "555-123-4567", "(555) 123-4567",
    "555 123 4567", "12:00pm", "7am", "9:15", "1,234,567", "3.14159", "2,5", "4x4", "10x",
    "24/7", "1990", "2020", "#1", "# 5", "no.1", "1.", "5.", "v2.0", "3D", "3-D", "20th",
    "one-third", "50/50", "$5.00", "$ 5", "$5", "US$5", "5$", "\u00a35", "\u20ac10",
    "\u00a225", "\u00a5100", "5\u00b0", "90\u00b0F", "2\u00d74", "\u00bd", "\u00bc cup",
    "\u00be", "\u2153", "\u2155", "x\u00b2", "10\u00b3", "1,000s", "1.5-inch", "6'2\"",
    "5'", "3'6\"", "12-inch", "2:1", "99.9%", "-3.5", "+/-", "1/2-inch", "2014-2015",
    "4:3", "1:00", "0", "00", "007",
    # brackets
    "(a cat)", "(", ")", "[dog]", "[", "]", "{x}", "{", "}", "<b>", "</b>", "<br/>",
    "<tag attr=\"v\">", "<a b='x'>", "<p class=\"c\" id='d'>", "<!DOCTYPE html>",
    "<?xml version='1.0'?>", "<br />", "</p>", "<a b = 'x y'>", "<img src=\"a.jpg\"/>", "<", ">", "<<", ">>", "-LRB-", "-RRB-", "-lrb-", "(sic)", "((x))",
    "[1]", "(2)", "(1990)", "f(x)", ":)", ":-)", ";)", ":D", ":(", "^_^", "<3", "(-_-)",
    # symbols
    "$", "%", "&", "#", "@", "*", "**", "***", "+", "=", "~", "^", "|", "\\", "/", "//",
    "A&W", "AT&T", "R&B", "b&w", "&amp;", "&", "S&P", "S&P-500", "c++", "C++", "c#",
    "F#", "@home", "#hashtag", "me@example.com", "www.example.com", "google.com",
    "http://example.com/a", "https://coco.org/x?y=1", "file.jpg", "photo.png", "a.b.c",
    "x/y", "and/or", "w/", "w/o", "on/off", "1/2", "a/b/c", "!", "?", "!!", "?!", "!?",
    "???", ";", ":", ",", ",,", ";;", "::", "=)", "\u00a7", "\u00b6", "\u00a9", "\u00ae",
    "\u2122", "\u2022", "\u00b7", "\u2020", "\u2190", "\u2192", "\u221e", "\u2665", "\u2605",
    "%%", "$$", "##", "@@", "&&", "||", "~~", "^^", "++", "==", "-_-", "_x_", "*bold*",
    # unicode
    "caf\u00e9", "na\u00efve", "r\u00e9sum\u00e9", "fa\u00e7ade", "cr\u00e8me br\u00fbl\u00e9e",
    "jalape\u00f1o", "Stra\u00dfe", "\u00c9COLE", "M\u00fcller", "\u00e5ngstr\u00f6m",
    "cafe\u0301", "\u0130stanbul", "\u03a3\u039f\u03a6\u0399\u0391", "\u039f\u0394\u039f\u03a3",
    "\u043c\u043e\u0441\u043a\u0432\u0430", "\u6771\u4eac", "\u3053\u3093\u306b\u3061\u306f",
    "\ud55c\uad6d", "\U0001f600", "\U0001f355 pizza", "\u2764\ufe0f", "\u00bfqu\u00e9?",
    "\u00a1hola!", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\u00f1",
    "\u00ad", "soft\u00adhyphen", "\u00c6sir", "\u0153uvre", "\u00f8", "\u00fe", "\u0111",
    # odd whitespace
    "\t", "a\tb", "  ", "\u00a0", "a\u00a0b", "\u2003", "x\u2009y", "\u3000", "\u200b",
    "zero\u200bwidth", "\ufeff", "\u202f", "a\u205fb", "\u1680",
]

END = ["", ".", " .", "!", "?", "!!", "?!", "...", ". ", " ", "  .", ",", ";"]


def caption(rng):
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randint(0, len(words)), rng.choice(PIECES))
    s = " ".join(words)
    r = rng.random()
    if r < 0.15:
        s = s.upper()
    elif r < 0.5:
        s = s[:1].upper() + s[1:]
    if rng.random() < 0.2:
        s = " " + s
    return s + rng.choice(END)


def tokenizer_strings():
    rng = random.Random(4)
    strings = list(PIECES)
    strings += [p + "." for p in PIECES[::3]] + [p.upper() for p in PIECES[1::4]]
    strings += ["", " ", ".", "A.", "The End.", "ETC.", "etc. The", "U.S. The", "e.g. A",
                "I. He", "Calif. He", "fig. 3", "no 5", "caf\u00e9s' owner's dog's",
                "mail me@x.com\u2003", "a@b\u3000", "tab at end\t", "1 1/2\u00a0"]
    while len(strings) < 2400:
        strings.append(caption(rng))
    while len(strings) < 5000:  # pieces glued together: the rules' edges
        glue = [rng.choice(["", "", " ", ".", ",", "-", "'", "\"", "/", "!", ":", "s", "(", "&", "@",
                            "#", "$", "1", "A", "a", "\t"]) for _ in range(4)]
        parts = [rng.choice(PIECES) for _ in range(rng.randint(2, 5))]
        strings.append("".join(p + g for p, g in zip(parts, glue + [""])))
    return strings


def line_break_strings():
    """Captions with characters the Java tokenizer takes as line ends."""
    return ["a man\rriding a horse", "two\r\ndogs", "a cat\u000bon a mat", "form\u000cfeed here",
            "line\u2028separator", "para\u2029separator", "next\u0085line", "plain caption",
            "new\nline inside", "<a b='x\ry'> tag", "trailing\r", "the last one"]


def tokenize(captions):
    with contextlib.redirect_stdout(io.StringIO()):
        out = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(captions)})
    return [out[i][0] if i in out else None for i in range(len(captions))]


def score(refs_path, results_path):
    """COCOEvalCap.evaluate() with BLEU, ROUGE-L and CIDEr, over the result images."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(refs_path)
        res = coco.loadRes(results_path)
        ids = res.getImgIds()
        gts = PTBTokenizer().tokenize({i: coco.imgToAnns[i] for i in ids})
        hyp = PTBTokenizer().tokenize({i: res.imgToAnns[i] for i in ids})
        corpus, per = {}, {i: {"image_id": i} for i in gts}
        for scorer, names in [(Bleu(4), ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"]),
                              (Rouge(), ["ROUGE_L"]), (Cider(), ["CIDEr"])]:
            s, ss = scorer.compute_score(gts, hyp)
            if len(names) == 1:
                s, ss = [s], [ss]
            for name, v, vs in zip(names, s, ss):
                corpus[name] = float(v)
                for i, x in zip(gts.keys(), vs):
                    per[i][name] = float(x)
    return {"corpus": corpus, "per_image": list(per.values())}


def synthetic(out):
    rng = random.Random(44)
    images, anns, results = [], [], []
    for k in range(300):
        iid = 1000 + 7 * k
        images.append({"id": iid, "file_name": "COCO_val2014_%012d.jpg" % iid})
        base = rng.choice(SUBJECTS) + " " + rng.choice(VERBS) + " " + rng.choice(OBJECTS)
        for _ in range(rng.choice([1, 3, 5, 5, 5, 6, 7])):
            anns.append({"id": len(anns) + 1, "image_id": iid,
                         "caption": caption(rng) if rng.random() < 0.6 else base + rng.choice(END)})
        if k % 10 != 3:  # some images have no result: they are not scored
            results.append({"image_id": iid, "caption": caption(rng) if rng.random() < 0.7 else base})
    rng.shuffle(anns)
    rng.shuffle(results)
    with open(os.path.join(out, "synth_refs.json"), "w") as f:
        json.dump({"images": images, "annotations": anns}, f)
    with open(os.path.join(out, "synth_results.json"), "w") as f:
        json.dump(results, f)
    return score(os.path.join(out, "synth_refs.json"), os.path.join(out, "synth_results.json"))


def edge(out):
    """Empty and punctuation-only captions, one-word and repeated captions."""
    caps = [["a dog", ""], ["a cat sits on a mat."], ["...", "two birds"], ["dog dog dog dog", "a dog"],
            ["A B C D E F", "b c d"], ["x"]]
    res = ["", "A cat!", "?", "dog dog dog", "a b c d e f g", "x"]
    images = [{"id": 10 + i, "file_name": "%d.jpg" % i} for i in range(len(caps))]
    anns = [{"id": len(caps) * j + i, "image_id": 10 + i, "caption": c}
            for i, cs in enumerate(caps) for j, c in enumerate(cs)]
    with open(os.path.join(out, "edge_refs.json"), "w") as f:
        json.dump({"images": images, "annotations": anns}, f)
    with open(os.path.join(out, "edge_results.json"), "w") as f:
        json.dump([{"image_id": 10 + i, "caption": c} for i, c in enumerate(res)], f)
    return score(os.path.join(out, "edge_refs.json"), os.path.join(out, "edge_results.json"))


def main(out, shared):
    os.makedirs(out, exist_ok=True)
    groups = []
    for caps in (tokenizer_strings(), line_break_strings()):
        groups.append({"captions": caps, "tokenized": tokenize(caps)})
    with open(os.path.join(out, "ptb.json"), "w") as f:
        json.dump({"groups": groups}, f, ensure_ascii=False, indent=0)
    demo = os.path.join(shared, "data", "coco-caption-demo")
    for name, scores in [("demo_scores.json", score(os.path.join(demo, "refs.json"),
                                                    os.path.join(demo, "results.json"))),
                         ("synth_scores.json", synthetic(out)), ("edge_scores.json", edge(out))]:
        with open(os.path.join(out, name), "w") as f:
            json.dump(scores, f, indent=0)
    print("wrote", out, ":", len(groups[0]["captions"]), "tokenizer strings")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "../shared")
