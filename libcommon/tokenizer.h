/* tokenizer.h - BERT WordPiece tokenizer identical to HuggingFace's Python
 * BertTokenizer for bert-base-uncased (do_lower_case) in transformers 4.15,
 * the version BLIP pins, with BLIP's two added special tokens, [DEC] (bos)
 * and [ENC].
 *
 * Encoding (BertTokenizer.encode(text, add_special_tokens=False)):
 *   1. the special tokens [PAD] [UNK] [CLS] [SEP] [MASK] [DEC] [ENC], written
 *      exactly so in the text, are split out and become their ids;
 *   2. cleaning: U+0000, U+FFFD and control characters (Unicode C*, except
 *      tab, LF, CR) are dropped; whitespace (tab, LF, CR, Zs) becomes a space;
 *   3. each CJK ideograph becomes a word of its own; words are split at
 *      Python whitespace (str.split());
 *   4. per word: Python's lower() of each character (no final-sigma rule:
 *      4.15 lowers one character at a time), Unicode NFD, nonspacing marks
 *      (Mn) dropped, then split before and after every punctuation character
 *      (Unicode P* and the ASCII symbols !-/ :-@ [-` {-~);
 *   5. per piece: greedy longest-match-first WordPiece with "##" for
 *      continuations; a piece over 100 characters, or one with no match,
 *      becomes [UNK].
 * Invalid UTF-8 is read as Python's errors='replace' reads it: each invalid
 * byte becomes U+FFFD, which step 2 drops (so invalid bytes vanish).
 *
 * Decoding (BertTokenizer.decode(ids, skip_special_tokens=True)): the seven
 * special ids are skipped, ids outside the vocabulary read as "[UNK]"; tokens
 * are joined with spaces, " ##" removed, the result stripped, then HF's
 * clean_up_tokenization: " ." " ?" " !" " ," lose their space, " ' " becomes
 * "'", and " n't" " 'm" " 's" " 've" " 're" lose their space.
 *
 * A tokenizer is read-only after loading: any number of threads may encode
 * and decode with one at the same time. */
#ifndef BLIP_TOKENIZER_H
#define BLIP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef DA(int32_t) tok_ids_t;

/* Ids of the special tokens, looked up in the vocabulary; [DEC] and [ENC]
 * are appended after the last line (30522, 30523 for bert-base-uncased)
 * unless the file already has them. */
typedef struct {
    int32_t pad, unk, cls, sep, mask, bos, enc;
} tok_special_ids_t;

typedef struct tok_slot tok_slot_t;

typedef struct {
    int32_t n_vocab;          /* tokens, [DEC] and [ENC] included */
    tok_special_ids_t id;
    /* private */
    char *blob;               /* every token, NUL-terminated, by id */
    uint32_t *off, *len;      /* [n_vocab] */
    tok_slot_t *slots;        /* open-addressing index: token -> id */
    uint32_t slot_mask;
    uint32_t max_key;         /* longest key in bytes ("##" not counted) */
} tokenizer_t;

/* Load a BERT vocab.txt (one token per line, id = line number; LF, CRLF or CR
 * line ends). A missing file, invalid UTF-8, an empty file or a missing
 * [PAD]/[UNK]/[CLS]/[SEP]/[MASK] is a one-line error naming the file. */
tokenizer_t *tok_load(const char *vocab_path);
void tok_free(tokenizer_t *t);

/* Id of a token string (no normalization), or -1. */
int32_t tok_lookup(const tokenizer_t *t, const char *token, size_t len);
/* Token string of an id, or NULL outside [0, n_vocab). */
const char *tok_token(const tokenizer_t *t, int32_t id);
/* Whether id is one of the seven special tokens. */
int tok_is_special(const tokenizer_t *t, int32_t id);

/* Append the ids of text[0..len) (any bytes) to out; no [CLS]/[SEP]. */
void tok_encode(const tokenizer_t *t, const char *text, size_t len, tok_ids_t *out);
/* Decode ids as described above; returns a new NUL-terminated string. */
char *tok_decode(const tokenizer_t *t, const int32_t *ids, size_t n);

#endif
