/* ptbtok.h - the Penn Treebank tokenizer of COCO caption evaluation.
 *
 * pycocoevalcap tokenizes captions with the Stanford CoreNLP 3.4.1
 * PTBTokenizer (`-preserveLines -lowerCase`, all captions of one call joined
 * by '\n' into one file) and then drops the punctuation tokens
 * '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;
 * This is a C reimplementation of that tokenizer for the English text
 * captions contain (words, contractions, possessives, quotes, dashes,
 * ellipses, abbreviations, numbers, fractions, brackets, symbols, URLs and
 * e-mail addresses, Unicode letters and spaces), checked token for token
 * against the Java tokenizer (tests/fixtures/score/ptb.json). Not covered:
 * SGML character entities other than &amp; &mdash; &ndash;, and tokens
 * longer than 127 UTF-16 units (split there). Characters outside the BMP are
 * seen as Java sees them, as two surrogates (mostly deleted as
 * untokenizable). */
#ifndef BLIP_PTBTOK_H
#define BLIP_PTBTOK_H

#include <stddef.h>
#include <stdint.h>

/* What `java edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase`
 * prints for this UTF-8 text: lowercased tokens separated by ' ', a '\n' for
 * every line break of the input (\n, \r\n, \r, \v, \f, U+2028, U+2029), no
 * final newline. Invalid UTF-8 reads as U+FFFD. Returns a new NUL-terminated
 * string; *out_len gets its length when out_len is not NULL. */
char *ptb_tokenize(const char *text, size_t len, size_t *out_len);

/* pycocoevalcap's PTBTokenizer.tokenize() over n captions in order: each
 * caption's '\n' becomes ' ', the captions are joined by '\n' and tokenized
 * together, output line i belongs to caption i (a caption with another
 * line-break character shifts the ones after it, as in pycocoevalcap), and
 * each line becomes its non-punctuation tokens joined by ' '. Returns n
 * strings (one allocation: free with ptb_free_captions); entry i is NULL
 * when the output has no line i. */
char **ptb_tokenize_captions(const char *const *captions, size_t n);
void ptb_free_captions(char **tokenized, size_t n);

/* Python's str.isspace() for one code point: where str.split() splits. */
int py_isspace(int32_t c);

#endif
