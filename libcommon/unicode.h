/* unicode.h - the few Unicode operations BLIP's text handling needs, with
 * Python's semantics (HF's BertTokenizer and BLIP's pre_caption are Python).
 *
 * Character data (categories, case mappings, canonical decompositions) come
 * from utf8proc. Invalid UTF-8 is read as Python's bytes.decode('utf-8',
 * 'replace') reads it, except that every invalid byte (not every maximal
 * invalid subsequence) becomes one U+FFFD; no caller depends on the count. */
#ifndef BLIP_UNICODE_H
#define BLIP_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#define UNI_REPLACEMENT 0xFFFDu

/* Decode the code point at s[*i] (of n bytes) and advance *i past it. Overlong
 * forms, surrogates, values over U+10FFFF and truncated sequences give
 * U+FFFD and advance one byte. */
uint32_t u8_decode(const char *s, size_t n, size_t *i);
/* Write cp as UTF-8 to out (room for 4 bytes); returns the byte count. */
int u8_encode(uint32_t cp, char *out);

/* Python str.isspace(): what str.split() and re's \s treat as whitespace. */
int uni_is_py_space(uint32_t cp);
/* Python str.lower() of n code points into out (room for 2n: U+0130 becomes
 * two); returns the output count. With final_sigma, a capital sigma at the
 * end of a word becomes final sigma as in str.lower() of the whole string;
 * without, every character is lowered alone (as transformers 4.15's
 * tokenize() does: re.sub with (.+?) and .lower() per match). */
size_t uni_py_lower(const uint32_t *in, size_t n, uint32_t *out, int final_sigma);

#endif
