#!/usr/bin/env bash
# tests/bench/tokenize.sh - tokenizer throughput: 500,000 COCO-like captions
# (generated deterministically), one thread, blip-tokenize plain and with
# --caption, side by side with HF `tokenizers` (Rust, BertWordPieceTokenizer)
# and transformers' Python BertTokenizer when they are importable. The HF
# timings cover encoding in memory only; blip-tokenize's include starting,
# loading the vocabulary, reading and writing. Also checks that HF's ids equal
# blip-tokenize's on this input. BENCH_CAPTIONS=N changes the count.
set -euo pipefail
cd "$(dirname "$0")/../.."
VOCAB=${BLIP_SHARED:-../shared}/data/bert-base-uncased-vocab.txt
N=${BENCH_CAPTIONS:-500000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Park-Miller LCG in awk: the same captions with any awk.
awk -v n="$N" 'BEGIN {
  x = 20240601
  ns = split("man woman boy girl dog cat group of people giraffe elephant zebra bus train plate of food pizza skateboarder surfer baseball player tennis player kitchen bathroom bedroom street sign motorcycle laptop teddy bear horse cow sheep bird clock tower", S, " ")
  na = split("young old little large small red white black brown wooden tall two three several colorful busy empty", A, " ")
  nv = split("sitting on|standing next to|riding|eating|holding|looking at|walking down|parked in front of|laying on|flying over|playing with|jumping over|covered in|hanging above|waiting at|leaning against", V, "|")
  no = split("a bench|the beach|a wooden table|a city street|a snowy hill|the grass|a bowl of fruit|a frisbee|an open field|a white plate|a surfboard|the ocean waves|a brick building|her dog|his phone|a kite|some broccoli|a fire hydrant|the train tracks|a counter|a skate ramp|a dirt road", O, "|")
  nt = split("||| in the rain| at night| on a sunny day| near a lake| while people watch| in a park| next to a building", E, "|")
  for (i = 0; i < n; i++) {
    x = (x * 16807) % 2147483647; r = x
    det = (r % 3 == 0) ? "A" : (r % 3 == 1) ? "a" : "The"
    s = det " " A[int(r / 3) % na + 1] " " S[int(r / 97) % ns + 1]
    x = (x * 16807) % 2147483647; r = x
    s = s " " V[r % nv + 1] " " O[int(r / 31) % no + 1] E[int(r / 1009) % nt + 1]
    if (int(r / 7) % 4 == 0) s = s "."
    if (int(r / 11) % 9 == 0) s = s " with " O[int(r / 13) % no + 1]
    print s
  }
}' > "$T/captions.txt"

rate() { awk -v n="$N" -v s="$1" 'BEGIN { printf "%9.0f captions/s  (%.3f s)", n / s, s }'; }
timed() { # OUT CMD...: seconds taken by CMD writing stdout to OUT
  local out=$1 t0 t1
  shift
  t0=$(date +%s.%N); "$@" > "$out"; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

echo "tokenize: $N COCO-like captions, $(wc -c < "$T/captions.txt") bytes, 1 thread"
s=$(timed "$T/ids.txt" bin/blip-tokenize --vocab "$VOCAB" "$T/captions.txt")
printf '  %-44s %s\n' "blip-tokenize" "$(rate "$s")"
s=$(timed "$T/caption_ids.txt" bin/blip-tokenize --vocab "$VOCAB" --caption "$T/captions.txt")
printf '  %-44s %s\n' "blip-tokenize --caption (pre_caption + frame)" "$(rate "$s")"
s=$(timed "$T/decoded.txt" bin/blip-tokenize --vocab "$VOCAB" --decode "$T/ids.txt")
printf '  %-44s %s\n' "blip-tokenize --decode" "$(rate "$s")"

if python3 -c 'import tokenizers' 2>/dev/null; then
  TOKENIZERS_PARALLELISM=false python3 - "$VOCAB" "$T/captions.txt" "$T/ids.txt" <<'PY'
import sys, time
from tokenizers import BertWordPieceTokenizer
vocab, captions, ours = sys.argv[1:]
lines = open(captions, encoding="utf-8").read().split("\n")[:-1]
tok = BertWordPieceTokenizer(vocab, lowercase=True)
t0 = time.perf_counter()
enc = tok.encode_batch(lines, add_special_tokens=False)
dt = time.perf_counter() - t0
print("  %-44s %9.0f captions/s  (%.3f s)" % ("HF tokenizers (Rust) encode_batch", len(lines) / dt, dt))
same = all(" ".join(map(str, e.ids)) == o for e, o in zip(enc, open(ours).read().split("\n")))
print("  ids identical to blip-tokenize: %s" % ("yes" if same else "NO"))
PY
else
  echo "  HF tokenizers not importable (pip install tokenizers): no comparison"
fi
if python3 -c 'import transformers.models.bert.tokenization_bert_legacy' 2>/dev/null; then
  python3 - "$VOCAB" "$T/captions.txt" <<'PY' 2>/dev/null
import sys, time
from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
vocab, captions = sys.argv[1:]
lines = open(captions, encoding="utf-8").read().split("\n")[:20000]
tok = BertTokenizerLegacy(vocab_file=vocab, do_lower_case=True)
t0 = time.perf_counter()
for s in lines:
    tok.encode(s, add_special_tokens=False)
dt = time.perf_counter() - t0
print("  %-44s %9.0f captions/s  (first %d captions)" % ("transformers Python BertTokenizer", len(lines) / dt, len(lines)))
PY
fi
