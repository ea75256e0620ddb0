#!/usr/bin/env python3
"""Make the tokenizer and caption fixtures from HuggingFace's BERT tokenizer as
BLIP uses it (bert-base-uncased + [DEC] as bos + [ENC] as an additional
special token, models/blip.py init_tokenizer) and BLIP's caption code.

The reference is the real transformers.BertTokenizer of transformers 4.15.0,
the version salesforce/BLIP pins (requirements.txt). It installs beside a
newer transformers without disturbing it:

    pip install --no-deps -t /tmp/t415 transformers==4.15.0 huggingface_hub==0.10.1
    pip install transformers tokenizers        # any version: cross-checks only
    python3 tests/ref/make_tokenizer_fixtures.py ../shared/data/bert-base-uncased-vocab.txt \
        tests/fixtures/tokenizer /tmp/t415

Afterwards the script reports how often the tokenizers of the current
transformers agree on the encode fixture: BertTokenizer (Rust `tokenizers`
backend, what BlipProcessor uses) and BertTokenizerLegacy (4.15's Python
code, updated). Both differ from 4.15 in rare cases: 4.15 lowercases text one
character at a time (no final-sigma rule: "ΟΔΟΣ" -> "οδοσ"); the Rust decoder
cleans up per token ("it ' s"); the legacy class lowercases whole words.

Writes tokenizer.txt.zst, lines (fields separated by TAB, strings escaped:
backslash, bytes < 0x20, 0x7f and, for inputs that are not valid UTF-8, every
byte >= 0x80 as \\xHH; \\\\ for a backslash):
  E input  ids  decoded        encode(input) without [CLS]/[SEP], then
                               decode(ids, skip_special_tokens=True)
  R ids  decoded               decode of an arbitrary id sequence
Invalid UTF-8 inputs are decoded as Python's bytes.decode('utf-8', 'replace').

Writes caption.txt.zst, lines:
  P raw  max_words  result     pre_caption(raw, max_words) (data/utils.py)
  G ids                        generation prompt ids ([DEC] a picture of)
  B n                          a training batch of n captions follows:
  C raw  ids  mask  labels     tokenizer(prompt + pre_caption(raw, 30),
                               padding='longest', truncation=True,
                               max_length=40), ids[:, 0] = bos, labels =
                               ids with pad -> -100 and [:, :4] -> -100
  S ids  caption               generated ids -> decoded[len(prompt):]
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import types
import unicodedata

PROMPT = "a picture of "
MAX_WORDS = 30
MAX_LEN = 40


def blip_tokenizer(tok):
    """models/blip.py init_tokenizer: [DEC] as bos, [ENC] as additional special."""
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tok


def pre_caption(caption, max_words=50):
    """salesforce/BLIP data/utils.py pre_caption, verbatim semantics."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption)
    caption = caption.rstrip("\n")
    caption = caption.strip(" ")
    words = caption.split(" ")
    if len(words) > max_words:
        caption = " ".join(words[:max_words])
    return caption


def esc_unit(ch, code, force):
    if ch == "\\":
        return "\\\\"
    if force or code < 0x20 or code == 0x7F:
        return "\\x%02x" % code
    return ch


def esc_bytes(b):
    """Escape for one TAB-separated field; valid UTF-8 stays readable."""
    try:
        return "".join(esc_unit(ch, ord(ch), False) for ch in b.decode("utf-8"))
    except UnicodeDecodeError:
        return "".join(esc_unit(chr(x), x, x >= 0x80) for x in b)


def esc_str(s):
    return esc_bytes(s.encode("utf-8"))


# --- inputs ------------------------------------------------------------------

SUBJ = ["a man", "a woman", "two dogs", "A young boy", "the cat", "a group of people", "an elephant",
        "A giraffe", "some zebras", "a plate", "a red double-decker bus", "a skateboarder", "a baseball player",
        "an old man's hat", "three kids", "a tennis player", "a kitchen", "a bathroom", "a pizza", "a train",
        "a little girl", "Several surfers", "a herd of sheep", "a motorcycle", "a laptop", "a teddy bear"]
VERB = ["sitting on", "standing next to", "riding", "eating", "holding", "looking at", "walking down",
        "parked in front of", "laying on", "flying over", "playing with", "jumping over", "covered in",
        "is sitting on top of", "hangs above", "rides", "swinging at", "filled with", "waiting at"]
OBJ = ["a bench", "the beach", "a wooden table", "a city street", "a snowy hill", "the grass", "a bowl of fruit",
       "a frisbee", "a large clock tower", "an open field", "a white plate", "a surfboard", "the ocean waves",
       "a stop sign", "a brick building", "her dog", "his phone", "a baseball bat", "a kite", "broccoli",
       "a fire hydrant", "the tracks", "a toilet", "a cake with candles", "hot dogs", "a 3-way intersection"]
TAIL = ["", "", "", ".", ".", " .", "!", "?", " in the rain", " at night", ", while smiling", " (blurry)",
        " on a sunny day.", " near a lake", " ...", "  .", " #tbt", " ~ 1990s", ": nice", "; really"]
WORDS_ACCENT = ["café", "naïve", "résumé", "Ångström", "São Paulo", "crème brûlée", "jalapeño", "Zürich",
                "Đà Nẵng", "Ελληνικά", "ΟΔΟΣ", "Σίσυφος", "ΣΑΣ", "Москва", "İstanbul", "straße", "STRASSE",
                "ﬁne ﬂower", "Œuvre", "ǅemal", "e\u0301te\u0301", "n\u0303", "A\u030a", "ǈ", "ﬀ", "Ⅻ ⅻ",
                "ℌ ℍ", "Ω Ω", "Å", "ŉ", "K", "ἀρχή", "ᾼ", "Ǆ", "ǰ", "Ꙁ", "Ḁ", "ỹ", "الْعَرَبِيَّة", "עִבְרִית",
                "हिन्दी", "தமிழ்", "ไทย", "ລາວ", "한국어", "\u1112\u1161\u11ab", "ᄀ각", "Ǳ ǲ ǳ", "ɐ ɑ"]
CJK = ["日本語のテキスト", "中文字符", "我爱北京天安门", "漢字かな交じり文", "カタカナ", "한국어 문장",
       "𠀀𠀁", "𪜀", "豈更", "丽丸", "　全角　スペース", "ｆｕｌｌｗｉｄｔｈ", "，。！？", "「引用」", "〜", "々",
       "ㄅㄆ", "〇", "𫝀", "𬺰", "⺀", "㐀", "鿿", "龥"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "☃", "🐶🐱", "🍕 time", "🏳️‍🌈", "✅", "©®™",
         "😀😀😀", "a😀b", "🦄", "⚽", "1️⃣", "🫠", "🥲"]
PUNCT = ["it's", "isn't", "don't", "can't", "won't", "I'm", "you're", "we've", "they'd", "y'all",
         "dogs'", "'quoted'", "\"double\"", "a-b-c", "e.g.", "U.S.A.", "3.14", "1,000", "$5.00", "50%",
         "#1", "@user", "a/b", "a\\b", "^_^", "`tick`", "~tilde~", "{brace}", "<tag>", "[bracket]",
         "a|b", "x+y=z", "...", "--", "—", "–", "‘single’", "“curly”", "«guillemets»", "¿qué?", "¡hola!",
         "§4", "¶", "•", "†", "‰", "′", "·", "、", "。", "؟", "।", "¦", "°", "±", "×", "÷", "€", "£",
         "¥", "¢", "½", "²", "µ", "do not", "n't", "'m", " 's", "' s", "a . b", "a , b", "a ? b", "a ! b"]
SPECIAL = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "[DEC]", "[ENC]", "[cls]", "[dec]", "[unused0]",
           "[unused5]x", "x[SEP]y", "[DEC][ENC]", "[ DEC ]", "[DEC", "DEC]", "[[SEP]]", "a [MASK] b",
           "[CLS] a [SEP]", "[Dec]"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x1c", "\x1f", "\x7f",
           "\x85", "\xa0", "\xad", "\u200b", "\u200c", "\u200d", "\u200e", "\u2028", "\u2029", "\u3000",
           "\ufeff", "\ufffd", "\ue000", "\U000f0000", "\u2060", "\u180e", "\u1680", "\u2007", "\u202f",
           "\u205f", "\u0378", "\uffff", "\U000e0001", "\u061c", "\u034f", "\ufe0f"]
INVALID = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
           b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80", b"\xbf\xbf", b"\xf8\x88\x80\x80\x80",
           b"\xc3\x28", b"\xe2\x28\xa1", b"\xf0\x28\x8c\x28"]


def caption(rng):
    s = "%s %s %s%s" % (rng.choice(SUBJ), rng.choice(VERB), rng.choice(OBJ), rng.choice(TAIL))
    r = rng.random()
    if r < 0.2:
        s = s[0].upper() + s[1:]
    elif r < 0.25:
        s = s.upper()
    elif r < 0.3:
        s = "  " + s.replace(" ", "  ", 1) + " \n"
    elif r < 0.33:
        s = s + " and " + caption(rng)
    return s


def random_unicode(rng, pool):
    n = rng.randint(1, 12)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            out.append(" ")
        elif r < 0.45:
            out.append(chr(rng.randint(0x21, 0x7E)))
        else:
            out.append(rng.choice(pool))
    return "".join(out)


def unicode_pool():
    """Assigned code points (Unicode as Python knows it), excluding surrogates."""
    pool = []
    for cp in list(range(0xA0, 0x3400)) + list(range(0xA000, 0xD800)) + list(range(0xF900, 0x10000)) + \
            list(range(0x10000, 0x10500)) + list(range(0x1F000, 0x1FB00)) + list(range(0x20000, 0x20100)):
        ch = chr(cp)
        if unicodedata.category(ch) not in ("Cn", "Cs"):
            pool.append(ch)
    return pool


def long_word(rng, n, alphabet="abcdefghijklmnopqrstuvwxyz"):
    return "".join(rng.choice(alphabet) for _ in range(n))


def inputs(rng):
    """Byte strings to encode."""
    out = []
    add = lambda s: out.append(s.encode("utf-8") if isinstance(s, str) else s)
    add("a picture of a woman sitting on the beach with her dog")
    for s in ["", " ", "  ", "\n", "\t", "\r\n", "\x00", " \x00 ", "\u3000", "\u2028"]:
        add(s)
    for _ in range(1500):
        add(caption(rng))
    for group in (WORDS_ACCENT, CJK, EMOJI, PUNCT, SPECIAL):
        for w in group:
            add(w)
            add("A " + w + " b")
            add(w.upper() + w)
        for _ in range(60):
            add(" ".join(rng.choice(group) for _ in range(rng.randint(1, 4))) + " " + caption(rng))
            add("".join(rng.choice(group) for _ in range(rng.randint(2, 5))))
    for c in CONTROL:
        add("a" + c + "b")
        add(c)
        add("word" + c + c + "Σ" + c + "next")
    for _ in range(150):
        s = caption(rng)
        i = rng.randint(0, len(s))
        add(s[:i] + rng.choice(CONTROL) + s[i:])
    for sig in ["Σ", "ΑΣ", "ΑΣ ", "ΑΣΑ", "ΑΣ.", "ΑΣ's", "Α'Σ", "ΑΣ'Α", "Σ'Α", "ΑΣ\u0301", "ΑΣ\u0301Α", "ªΣ",
                "ᾼΣ", "ⒶΣ", "ΑΣ\u00ad", "ΑΣ\u200bΑ", "ΑΣ1", "1Σ", "ΑΣ\x00Α", "ΑΣΣ", "ΟΔΟΣ ΟΔΟΣ", "ʰΣ",
                "ΑʰΣ", "ΑΣʰ", "ΑΣʰΑ", "ΑΣ\u0345", "ⅠΣ", "ΑΣⅠ", "ΑΣ:Α", "ΑΣ·Α", "ΑΣ\u2019Α", "ΑΣ-Α"]:
        add(sig)
        add("x " + sig.lower() + " " + sig)
    for n in [1, 2, 50, 98, 99, 100, 101, 102, 150, 400]:
        add(long_word(rng, n))
        add("a " + long_word(rng, n, "é") + " b")
        add(("xé" * n)[:n])
        add("pre" + "anti" * (n // 4) + " word")
        add("日" + long_word(rng, n) + "本")
        add("ab" * (n // 2) + "!" + "cd" * (n // 2))
    for _ in range(20):
        add("e\u0301" * 60 + "x" * 41)   # 101 code points, 41 after accent stripping... see pieces
        add("x" * 99 + "\u0301")
        add("a" * 100 + "\u0301")
        add("a" * 100 + "ǆ")
    pool = unicode_pool()
    for _ in range(700):
        add(random_unicode(rng, pool))
    for bad in INVALID:
        add(bad)
        add(b"a" + bad + b"b")
        add(b"ab " + bad + b" cd")
        add("ΑΣ".encode() + bad + "Α".encode())
    for _ in range(60):
        s = caption(rng).encode()
        i = rng.randint(0, len(s))
        add(s[:i] + rng.choice(INVALID) + s[i:])
    return out


# --- fixtures ------------------------------------------------------------------

def encode_fixture(tok, rng, lines):
    texts = inputs(rng)
    for b in texts:
        ids = tok.encode(b.decode("utf-8", "replace"), add_special_tokens=False)
        dec = tok.decode(ids, skip_special_tokens=True)
        lines.append("E\t%s\t%s\t%s" % (esc_bytes(b), " ".join(map(str, ids)), esc_str(dec)))
    print("encode: %d strings" % len(texts))


def unescape(field):
    """The bytes esc_bytes escaped."""
    return re.sub(rb"\\(x[0-9a-f]{2}|\\)",
                  lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]),
                  field.encode("utf-8"))


def cross_check(vocab, fixture):
    """With the current transformers: agreement with the 4.15 fixture."""
    from transformers import BertTokenizer
    from transformers.models.bert import tokenization_bert_legacy as legacy
    data = subprocess.run(["zstd", "-dc", fixture], check=True, capture_output=True).stdout.decode("utf-8")
    cases = [line.split("\t") for line in data.split("\n") if line.startswith("E\t")]
    toks = {"transformers %s BertTokenizer (Rust)" % __import__("transformers").__version__:
            BertTokenizer(vocab=legacy.load_vocab(vocab), do_lower_case=True),
            "BertTokenizerLegacy (Python)": legacy.BertTokenizerLegacy(vocab_file=vocab, do_lower_case=True)}
    for name, tok in toks.items():
        tok = blip_tokenizer(tok)
        same_ids = same_text = 0
        for _, text, ids, dec in cases:
            want = [int(x) for x in ids.split()]
            same_ids += tok.encode(unescape(text).decode("utf-8", "replace"), add_special_tokens=False) == want
            same_text += esc_str(tok.decode(want, skip_special_tokens=True)) == dec
        print("%s: same ids for %d of %d strings, same decoded text for %d" % (name, same_ids, len(cases), same_text))


def decode_fixture(tok, rng, lines, n=600):
    """Arbitrary id sequences: specials, ## pieces, punctuation, contractions, bad ids."""
    vocab = tok.get_vocab()
    favor = [vocab[t] for t in [".", ",", "?", "!", "'", "s", "t", "m", "ve", "re", "n", "do", "not",
                                "##s", "##ing", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[DEC]",
                                "[ENC]", "a", "dog", "-", "\"", "[unused1]", "##", "#"] if t in vocab]
    favor += [len(tok), 99999, -1]   # outside the vocabulary: decoded as "[UNK]"
    for _ in range(n):
        ids = [rng.choice(favor) if rng.random() < 0.6 else rng.randrange(len(tok))
               for _ in range(rng.randint(0, 14))]
        lines.append("R\t%s\t%s" % (" ".join(map(str, ids)), esc_str(tok.decode(ids, skip_special_tokens=True))))


def caption_fixture(tok, rng, lines):
    raws = [caption(rng) for _ in range(300)]
    raws += ["", "   ", "a\tb", "a\t\tb", "a \t b", "A.B.C", "\"quoted\" (x) *y* #z: w; v~", "...",
             "a\nb", "a\n", "a\n\n", " a \n", "a\u3000\u3000b", "a\u00a0b", "a\u2028\u2029b", "ΟΔΟΣ. ΟΔΟΣ",
             "İSTANBUL", "x\x1c\x1dy", "one two  three   four", "x" * 120, " ".join(["w%d" % i for i in range(45)]),
             " ".join(["word"] * 31) + ".", "a  " * 35, "\ufeffbom", "a\x85\x85b", "\x0b\x0ba", "!!!a!!!"]
    raws += [" ".join(caption(rng) for _ in range(4)) for _ in range(40)]
    for raw in raws:
        for mw in (30, 5, 50):
            lines.append("P\t%s\t%d\t%s" % (esc_str(raw), mw, esc_str(pre_caption(raw, mw))))
    # models/blip.py BLIP_Decoder.generate: prompt ids, [:, 0] = bos, drop [SEP].
    g = tok(PROMPT).input_ids
    g[0] = tok.bos_token_id
    lines.append("G\t%s" % " ".join(map(str, g[:-1])))
    prompt_length = len(tok(PROMPT).input_ids) - 1
    i = 0
    while i < len(raws):
        n = rng.randint(1, 8)
        batch = raws[i:i + n]
        i += n
        text = [PROMPT + pre_caption(r, MAX_WORDS) for r in batch]
        enc = tok(text, padding="longest", truncation=True, max_length=MAX_LEN)
        lines.append("B\t%d" % len(batch))
        for r, ids, mask in zip(batch, enc.input_ids, enc.attention_mask):
            ids = list(ids)
            ids[0] = tok.bos_token_id
            labels = [-100 if t == tok.pad_token_id else t for t in ids]
            labels[:prompt_length] = [-100] * prompt_length
            lines.append("C\t%s\t%s\t%s\t%s" % (esc_str(r), " ".join(map(str, ids)), " ".join(map(str, mask)),
                                                " ".join(map(str, labels))))
    # Generated sequences -> caption (decode, skip specials, strip the prompt by length).
    for r in raws[:120] + ["", "x"]:
        ids = g[:-1] + tok.encode(pre_caption(r, MAX_WORDS), add_special_tokens=False)[:rng.randint(0, 25)]
        ids += [tok.sep_token_id] + [tok.pad_token_id] * rng.randint(0, 3)
        if rng.random() < 0.1:
            ids = ids[:rng.randint(1, 4)]
        lines.append("S\t%s\t%s" % (" ".join(map(str, ids)), esc_str(tok.decode(ids, skip_special_tokens=True)[len(PROMPT):])))


def write_zst(path, lines):
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with open(path[:-4], "wb") as f:   # from a file, zstd records the content size
        f.write(data)
    subprocess.run(["zstd", "-19", "-q", "-f", "--rm", path[:-4]], check=True)
    print("%s: %d lines, %d bytes (%d compressed)" % (path, len(lines), len(data), os.path.getsize(path)))


def load_transformers_415(path):
    """transformers 4.15.0 from `path`, its dependency version check skipped."""
    sys.path.insert(0, path)
    sys.modules["transformers.dependency_versions_check"] = types.ModuleType("transformers.dependency_versions_check")
    import transformers
    assert transformers.__version__ == "4.15.0", "%s: transformers %s" % (path, transformers.__version__)
    transformers.logging.set_verbosity_error()
    return transformers.BertTokenizer


def main(vocab, out, t415):
    os.makedirs(out, exist_ok=True)
    # from_pretrained, as BLIP loads it: it also registers [CLS] [SEP] [PAD]
    # [MASK] [UNK] as never-split tokens (sanitize_special_tokens).
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(vocab, os.path.join(d, "vocab.txt"))
        tok = blip_tokenizer(load_transformers_415(t415).from_pretrained(d, do_lower_case=True))
    assert tok.bos_token_id == 30522 and tok.convert_tokens_to_ids("[ENC]") == 30523
    rng = random.Random(20240601)
    lines = ["# tokenizer fixture: see tests/ref/make_tokenizer_fixtures.py"]
    encode_fixture(tok, rng, lines)
    decode_fixture(tok, rng, lines)
    write_zst(os.path.join(out, "tokenizer.txt.zst"), lines)
    lines = ["# caption fixture: see tests/ref/make_tokenizer_fixtures.py"]
    caption_fixture(tok, rng, lines)
    write_zst(os.path.join(out, "caption.txt.zst"), lines)
    subprocess.run([sys.executable, __file__, "--cross-check", vocab, os.path.join(out, "tokenizer.txt.zst")])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--cross-check":
        cross_check(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4:
        main(*sys.argv[1:])
    else:
        sys.exit("usage: make_tokenizer_fixtures.py VOCAB_TXT OUT_DIR TRANSFORMERS_4_15_DIR")
