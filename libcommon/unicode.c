/* unicode.c - UTF-8 coding with replacement, Python's whitespace and
 * lowercasing (Final_Sigma included). See unicode.h. */
#include "unicode.h"

#include <utf8proc.h>

uint32_t u8_decode(const char *str, size_t n, size_t *i) {
    const unsigned char *s = (const unsigned char *)str + *i;
    size_t left = n - *i;
    uint32_t c = s[0];
    if (c < 0x80) { *i += 1; return c; }
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    uint32_t min = len == 4 ? 0x10000 : len == 3 ? 0x800 : 0x80;
    if (c < 0xC2 || c > 0xF4 || (size_t)len > left) goto bad;
    uint32_t cp = c & (0x3F >> (len - 1));
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) goto bad;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto bad;
    *i += len;
    return cp;
bad:
    *i += 1;
    return UNI_REPLACEMENT;
}

int u8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = cp; return 1; }
    if (cp < 0x800) { o[0] = 0xC0 | cp >> 6; o[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        o[0] = 0xE0 | cp >> 12; o[1] = 0x80 | (cp >> 6 & 0x3F); o[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    o[0] = 0xF0 | cp >> 18; o[1] = 0x80 | (cp >> 12 & 0x3F);
    o[2] = 0x80 | (cp >> 6 & 0x3F); o[3] = 0x80 | (cp & 0x3F);
    return 4;
}

int uni_is_py_space(uint32_t c) {
    if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Case_Ignorable (Unicode DerivedCoreProperties): Mn Me Cf Lm Sk plus the
 * Word_Break classes MidLetter, MidNumLet and Single_Quote. */
static int case_ignorable(uint32_t c) {
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
        return 1;
    default:
        break;
    }
    static const uint32_t mid[] = {0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019,
                                   0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    for (size_t k = 0; k < sizeof mid / sizeof mid[0]; k++)
        if (c == mid[k]) return 1;
    return 0;
}

/* Cased: Lu Ll Lt, anything with a case mapping, and the Other_Lowercase /
 * Other_Uppercase letters and symbols that have none. */
static int cased(uint32_t c) {
    utf8proc_category_t cat = utf8proc_category(c);
    if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
        return 1;
    if ((uint32_t)utf8proc_tolower(c) != c || (uint32_t)utf8proc_toupper(c) != c) return 1;
    return c == 0xAA || c == 0xBA || (c >= 0x1F130 && c <= 0x1F149) ||
           (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

/* Final_Sigma: a cased letter before (skipping case-ignorables) and none after. */
static int final_sigma(const uint32_t *s, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && case_ignorable(s[j - 1])) j--;
    if (j == 0 || !cased(s[j - 1])) return 0;
    for (j = i + 1; j < n && case_ignorable(s[j]); j++) {}
    return j == n || !cased(s[j]);
}

size_t uni_py_lower(const uint32_t *in, size_t n, uint32_t *out, int with_final_sigma) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c < 0x80) out[o++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
        else if (c == 0x130) { out[o++] = 'i'; out[o++] = 0x307; }
        else if (c == 0x3A3 && with_final_sigma) out[o++] = final_sigma(in, n, i) ? 0x3C2 : 0x3C3;
        else out[o++] = utf8proc_tolower(c);
    }
    return o;
}
