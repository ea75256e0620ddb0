#!/usr/bin/env bash
# tests/cli/blip-tokenize.sh - blip-tokenize's options, framing, round trips and errors.
. "$(dirname "$0")/lib.sh"
V=$BLIP_SHARED/data/bert-base-uncased-vocab.txt

ok help blip-tokenize --help
blip-tokenize --help > "$T/help"
has help_mentions_vocab "$T/help" -- '--vocab FILE'

same known_caption "$(echo 'a picture of a woman sitting on the beach with her dog' | blip-tokenize --vocab "$V")" \
  "1037 3861 1997 1037 2450 3564 2006 1996 3509 2007 2014 3899"
printf "It's a dog.\n\nCafé NAÏVE 日本\n" > "$T/in.txt"
blip-tokenize --vocab "$V" "$T/in.txt" > "$T/ids.txt"
same one_line_per_line "$(wc -l < "$T/ids.txt")" 3
same decode_round_trip "$(blip-tokenize --vocab "$V" --decode "$T/ids.txt")" "$(printf "it's a dog.\n\ncafe naive 日 本")"
same stdin_dash "$(blip-tokenize --vocab "$V" - < "$T/in.txt")" "$(cat "$T/ids.txt")"

mkdir -p "$T/model" && cp "$V" "$T/model/vocab.txt"
same caption_framing "$(echo 'A dog.  Running!' | blip-tokenize --model "$T/model" --caption)" \
  "30522 1037 3861 1997 1037 3899 2770 102"
same caption_truncated_to_40 "$(printf 'dog, %.0s' $(seq 60) | blip-tokenize --vocab "$V" --caption | wc -w)" 40
same caption_decode_drops_prompt "$(echo '30522 1037 3861 1997 1037 3899 2770 102 0 0' | blip-tokenize --vocab "$V" --caption --decode)" \
  "a dog running"
same decode_skips_specials "$(echo '101 30522 1037 100 3899 102 30523 103' | blip-tokenize --vocab "$V" --decode)" "a dog"

tr -d '\r' < "$V" | sed 's/$/\r/' > "$T/crlf.txt"
same crlf_vocab "$(echo 'unaffable ##ing' | blip-tokenize --vocab "$T/crlf.txt")" \
  "$(echo 'unaffable ##ing' | blip-tokenize --vocab "$V")"
same invalid_utf8_dropped "$(printf 'caf\xc3 d\xffog \xed\xa0\x80\n' | blip-tokenize --vocab "$V")" \
  "$(echo 'caf dog' | blip-tokenize --vocab "$V")"
head -c 20000 /dev/urandom > "$T/noise"
exits random_bytes_no_crash 0 blip-tokenize --vocab "$V" "$T/noise"
exits random_bytes_caption_no_crash 0 blip-tokenize --vocab "$V" --caption "$T/noise"

one_line_error() { # NAME CODE CMD...: exits CODE with one stderr line naming the problem
  local n=$1 code=$2; shift 2
  "$@" < /dev/null > /dev/null 2> "$T/err"; local rc=$?
  if [ "$rc" = "$code" ] && [ "$(wc -l < "$T/err")" = 1 ]; then pass "$n"; else fail "$n" "exit $rc: $(cat "$T/err")"; fi
}
one_line_error missing_vocab 1 blip-tokenize --vocab "$T/nope.txt"
printf 'ok\n\xff\xfe\n' > "$T/bad_vocab.txt"
one_line_error malformed_vocab 1 blip-tokenize --vocab "$T/bad_vocab.txt"
has malformed_vocab_names_line "$T/err" 'bad_vocab.txt:2: invalid UTF-8'
printf 'a\nb\n' > "$T/small.txt"
one_line_error not_bert_vocab 1 blip-tokenize --vocab "$T/small.txt"
one_line_error model_without_vocab 1 blip-tokenize --model "$T"
exits no_vocab_is_usage_error 2 blip-tokenize
exits unknown_option 2 blip-tokenize --vocab "$V" --bogus
echo '1037 x' > "$T/badids"
one_line_error bad_id 1 blip-tokenize --vocab "$V" --decode "$T/badids"
has bad_id_names_line "$T/err" 'badids:1: not a token id'
