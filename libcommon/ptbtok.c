/* ptbtok.c - the CoreNLP 3.4.1 PTBTokenizer of pycocoevalcap, in C.
 *
 * The Java tokenizer is a JFlex scanner: at each position every rule is
 * tried, the longest match wins (counting a rule's trailing context), ties go
 * to the earlier rule, and the action may emit fewer characters than it
 * consumed ("cannot" -> "can" + "not") or emit a normalized form ("(" ->
 * "-LRB-"). Here each rule is a small function over *position sets*: a
 * 128-bit mask whose bit i says "a match of the pattern so far can end i
 * characters after the token start". Pattern pieces map sets to sets
 * (a character class steps every position by one; a repetition is a
 * fixpoint), so alternatives, bounded repeats and backtracking come for free
 * and the longest match is the highest bit. Plain words, most of any
 * caption, skip the rules through a fast path, and only the rules that can
 * start with the current character are tried. Text is processed as UTF-16
 * units, as Java sees it; output tokens are lowercased like Java's
 * toLowerCase(Locale.ENGLISH). Long texts are scanned in parallel chunks cut
 * after line breaks. */
#include "ptbtok.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "err.h"
#include "pool.h"

/* --- text ------------------------------------------------------------------ */

/* UTF-8 to UTF-16 code units, as Java's scanner sees the text: invalid bytes
 * become U+FFFD, code points outside the BMP surrogate pairs. */
static int32_t *decode(const char *s, size_t len, int *n) {
    int32_t *cp = xmalloc((len + 1) * sizeof *cp);
    int k = 0;
    for (size_t i = 0; i < len;) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull))) { /* 8 ASCII bytes */
            for (int j = 0; j < 8; j++) cp[k + j] = (unsigned char)s[i + j];
            i += 8;
            k += 8;
            continue;
        }
        if ((unsigned char)s[i] < 0x80) {
            cp[k++] = (unsigned char)s[i++];
            continue;
        }
        utf8proc_int32_t c;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
        if (r < 1) { c = 0xFFFD; r = 1; }
        if (c > 0xFFFF) {
            cp[k++] = 0xD800 + ((c - 0x10000) >> 10);
            cp[k++] = 0xDC00 + ((c - 0x10000) & 0x3FF);
        } else {
            cp[k++] = c;
        }
        i += (size_t)r;
    }
    *n = k;
    return cp;
}

typedef struct { int32_t lo, hi; } range_t;

static int in_ranges(int32_t c, const range_t *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (c >= r[i].lo && c <= r[i].hi) return 1;
    return 0;
}

/* --- character classes ---------------------------------------------------- */

static int cat_letter(int32_t c) {
    if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
static int p_digit(int32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ND;
}
static int p_cased(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}
static int p_upper(int32_t c) { return c >= 0 && utf8proc_category(c) == UTF8PROC_CATEGORY_LU; }

/* Combining marks and modifier letters the tokenizer also counts as letters. */
static const range_t LETTER_EXTRA[] = {
    {0x00AD, 0x00AD}, {0x0237, 0x024F}, {0x02C2, 0x02C5}, {0x02D2, 0x02DF}, {0x02E5, 0x02FF},
    {0x0300, 0x036F}, {0x0370, 0x037D}, {0x0384, 0x0385}, {0x03CF, 0x03CF}, {0x03F6, 0x03F6},
    {0x03FC, 0x03FF}, {0x0483, 0x0487}, {0x04CF, 0x04CF}, {0x04F6, 0x04FF}, {0x0510, 0x0525},
    {0x055A, 0x055F}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2}, {0x05C4, 0x05C5},
    {0x05C7, 0x05C7}, {0x0615, 0x061A}, {0x063B, 0x063F}, {0x064B, 0x065E}, {0x0670, 0x0670},
    {0x06D6, 0x06EF}, {0x06FA, 0x06FF}, {0x070F, 0x070F}, {0x0711, 0x0711}, {0x0730, 0x077F},
    {0x07A6, 0x07B1}, {0x07CA, 0x07F5}, {0x07FA, 0x07FA}, {0x0900, 0x0903}, {0x093C, 0x093C},
    {0x093E, 0x094E}, {0x0951, 0x0955}, {0x0962, 0x0963}, {0x0981, 0x0983}, {0x09BC, 0x09C4},
    {0x09C7, 0x09C8}, {0x09CB, 0x09CD}, {0x09D7, 0x09D7}, {0x09E2, 0x09E3}, {0x0A01, 0x0A03},
    {0x0A3C, 0x0A3C}, {0x0A3E, 0x0A4F}, {0x0A81, 0x0A83}, {0x0ABC, 0x0ACF}, {0x0B82, 0x0B82},
    {0x0BBE, 0x0BC2}, {0x0BC6, 0x0BC8}, {0x0BCA, 0x0BCD}, {0x0C01, 0x0C03}, {0x0C3E, 0x0C56},
    {0x0D3E, 0x0D44}, {0x0D46, 0x0D48}, {0x0E30, 0x0E3A}, {0x0E47, 0x0E4E}, {0x0EB1, 0x0EBC},
    {0x0EC8, 0x0ECD},
};
/* Symbols that are tokens of their own. */
static const range_t MISC_SYMBOL[] = {
    {'+', '+'}, {'%', '%'}, {'&', '&'}, {'~', '~'}, {'^', '^'}, {'|', '|'}, {'\\', '\\'},
    {0x00A6, 0x00A9}, {0x00AC, 0x00AC}, {0x00AE, 0x00AF}, {0x00B0, 0x00BA}, {0x00D7, 0x00D7},
    {0x00F7, 0x00F7}, {0x0387, 0x0387}, {0x05BE, 0x05BE}, {0x05C0, 0x05C0}, {0x05C3, 0x05C3},
    {0x05C6, 0x05C6}, {0x05F3, 0x05F4}, {0x0600, 0x0603}, {0x0606, 0x060A}, {0x060C, 0x060C},
    {0x0614, 0x0614}, {0x061B, 0x061B}, {0x061E, 0x061E}, {0x066A, 0x066A}, {0x066D, 0x066D},
    {0x0703, 0x070D}, {0x07F6, 0x07F8}, {0x0964, 0x0965}, {0x0E4F, 0x0E4F}, {0x1FBD, 0x1FBD},
    {0x2016, 0x2017}, {0x2020, 0x2023}, {0x2030, 0x2038}, {0x203B, 0x203B}, {0x203E, 0x2042},
    {0x2044, 0x2044}, {0x207A, 0x207F}, {0x208A, 0x208E}, {0x2100, 0x214F}, {0x2190, 0x2BFF},
    {0x3012, 0x3012}, {0x30FB, 0x30FB}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF20}, {0xFF3B, 0xFF40},
    {0xFF5B, 0xFF65},
};
static const int32_t CURRENCY[] = {0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x0080, 0x20A0, 0x20AC,
                                   0x060B, 0x0E3F, 0x20A4, 0xFFE0, 0xFFE1, 0xFFE5, 0xFFE6};

static int p_letter(int32_t c) {
    return cat_letter(c) || (c >= 0xAD && in_ranges(c, LETTER_EXTRA, ARRAY_LEN(LETTER_EXTRA)));
}
static int p_letdig(int32_t c) { return p_letter(c) || p_digit(c); }
static int p_jletdig(int32_t c) { return cat_letter(c) || p_digit(c); }
static int p_alpha(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int p_AZ(int32_t c) { return c >= 'A' && c <= 'Z'; }
static int p_09(int32_t c) { return c >= '0' && c <= '9'; }
static int p_alnum(int32_t c) { return p_alpha(c) || p_09(c); }
static int p_shy(int32_t c) { return c == 0xAD; }
static int p_alpha_shy(int32_t c) { return p_alpha(c) || c == 0xAD; }
static int p_alpha_not_n(int32_t c) { return p_alpha(c) && c != 'n' && c != 'N'; }
static int p_alnum_shy(int32_t c) { return p_alnum(c) || c == 0xAD; }
static int p_hthing_head(int32_t c) { return p_alnum(c) || c == '.' || c == ',' || c == 0xAD; }
static int p_space(int32_t c) {
    return c == ' ' || c == '\t' || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) || c == 0x3000;
}
static int p_nl1(int32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x85 || c == 0x2028 || c == 0x2029;
}
static int p_hyphen(int32_t c) { return c == '-' || c == '_' || c == 0x058A || c == 0x2010 || c == 0x2011; }
static int p_apos(int32_t c) { return c == '\'' || c == 0x92 || c == 0x2019; }
static int p_aposetc(int32_t c) { return p_apos(c) || c == '`' || c == 0x91 || c == 0x2018 || c == 0x201B; }
static int p_sentp(int32_t c) { return c == '.' || c == '!' || c == '?'; }
static int p_insentp(int32_t c) { return c == ',' || c == ';' || c == ':' || c == 0x3001; }
static int p_numsep(int32_t c) { return c == '.' || c == ':' || c == ',' || c == 0xAD || c == 0x066B || c == 0x066C; }
static int p_phone_sep(int32_t c) { return c == '-' || c == ' ' || c == 0xA0; }
static int p_sp_nbsp(int32_t c) { return c == ' ' || c == 0xA0; }
static int in_ascii(int32_t c, const char *set) { return c > 0 && c < 0x80 && strchr(set, c); }
static int p_vowel_y(int32_t c) { return in_ascii(c, "aeiouyAEIOUY"); }
static int p_vowel_or_upper(int32_t c) { return p_AZ(c) || in_ascii(c, "aeiou"); }
static int p_2_9(int32_t c) { return c >= '2' && c <= '9'; }
static int p_dot(int32_t c) { return c == '.'; }
static int p_space_only(int32_t c) { return c == ' '; }
static int p_sgml_alpha_dash(int32_t c) { return p_alpha(c) || c == '-'; }
static int p_mdash(int32_t c) { return c == 0x96 || c == 0x97 || (c >= 0x2013 && c <= 0x2015); }
static int p_minus(int32_t c) { return c == '-'; }
static int p_at(int32_t c) { return c == '@'; }
static int p_hash(int32_t c) { return c == '#'; }
static int p_under(int32_t c) { return c == '_'; }
static int p_star(int32_t c) { return c == '*'; }
static int p_qex(int32_t c) { return c == '?' || c == '!'; }
static int p_subsup_sign(int32_t c) { return c == 0x207A || c == 0x207B || c == 0x208A || c == 0x208B; }
static int p_quote_char(int32_t c) {
    return c == '`' || (c >= 0x2018 && c <= 0x201F) || (c >= 0x91 && c <= 0x94) || c == 0x2039 ||
           c == 0x203A || c == 0xAB || c == 0xBB;
}
static int p_supnum(int32_t c) { return c == 0x2070 || c == 0xB9 || c == 0xB2 || c == 0xB3 || (c >= 0x2074 && c <= 0x2079); }
static int p_subnum(int32_t c) { return c >= 0x2080 && c <= 0x2089; }
static int p_frac2(int32_t c) { return c == 0xBC || c == 0xBD || c == 0xBE || (c >= 0x2153 && c <= 0x215E); }
static int p_currency(int32_t c) {
    for (size_t i = 0; i < ARRAY_LEN(CURRENCY); i++)
        if (c == CURRENCY[i]) return 1;
    return 0;
}
static int p_misc(int32_t c) { return c > 0 && in_ranges(c, MISC_SYMBOL, ARRAY_LEN(MISC_SYMBOL)); }
static int p_period_like(int32_t c) {
    return c == '.' || c == 0xA1 || c == 0xBF || c == 0x037E || c == 0x0589 || c == 0x061F ||
           c == 0x06D4 || (c >= 0x0700 && c <= 0x0702) || c == 0x07FA || c == 0x3002;
}
static int p_ignorable(int32_t c) { return c == 0 || c == 0x200B || c == 0x200E || c == 0x200F || c == 0xFEFF; }
/* URL and e-mail character sets (ASCII exclusions). */
static int not_in(int32_t c, const char *set) { return c >= 0 && !in_ascii(c, set); }
static int p_url(int32_t c) { return not_in(c, " \t\n\f\r\"<>|(){}"); }
static int p_url_end(int32_t c) { return not_in(c, " \t\n\f\r\"<>|.!?(){},-"); }
static int p_www_label(int32_t c) { return not_in(c, " \t\n\f\r\"<>|.!?(){},"); }
static int p_url_label(int32_t c) { return not_in(c, " \t\n\f\r\"`'<>|.!?(){}$") && !(c >= ',' && c <= '_'); }
static int p_url_path(int32_t c) { return not_in(c, " \t\n\f\r\"<>|()"); }
static int p_mail_local(int32_t c) { return not_in(c, " \t\n\f\r\"<>|(){}") && c != 0xA0; }
static int p_mail_label(int32_t c) { return not_in(c, " \t\n\f\r\"<>|(){}.") && c != 0xA0; }
static int p_twitter_head(int32_t c) { return p_alpha(c) || c == '_'; }
static int p_twitter_tail(int32_t c) { return p_alnum(c) || c == '_'; }
static int p_sgml_name(int32_t c) { return p_alnum(c) || c == '_' || c == ':' || c == '.' || c == '-'; }
static int p_sgml_decl(int32_t c) { return c >= 0 && c != '>' && c != '\r' && c != '\n'; }
static int p_not_squote(int32_t c) { return c >= 0 && c != '\''; }
static int p_not_dquote(int32_t c) { return c >= 0 && c != '"'; }
static int p_any(int32_t c) { return c >= 0; }
static int p_not_alpha(int32_t c) { return c >= 0 && !p_alpha(c); }
static int p_not_alnum(int32_t c) { return c >= 0 && !p_alnum(c); }
static int p_not_space_nl(int32_t c) { return c >= 0 && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != 0xA0; }
static int p_dbl_next(int32_t c) { return p_alnum(c) || c == '$'; }

/* --- position sets --------------------------------------------------------- */

typedef unsigned __int128 ps_t;
#define MAXTOK 127
#define B(i) ((ps_t)1 << (i))

typedef struct {
    const int32_t *c;
    int n, p; /* text, its length, the token start */
} lx_t;
typedef int (*pred_t)(int32_t);
typedef ps_t (*pat_t)(const lx_t *, ps_t);

static inline int32_t at(const lx_t *x, int i) { return x->p + i < x->n ? x->c[x->p + i] : -1; }
static inline int lowbit(ps_t s) {
    uint64_t lo = (uint64_t)s;
    return lo ? __builtin_ctzll(lo) : 64 + __builtin_ctzll((uint64_t)(s >> 64));
}
static inline int highbit(ps_t s) {
    uint64_t hi = (uint64_t)(s >> 64);
    return hi ? 127 - __builtin_clzll(hi) : 63 - __builtin_clzll((uint64_t)s);
}

/* One character of class f after each position of s. */
static inline ps_t step(const lx_t *x, ps_t s, pred_t f) {
    ps_t o = 0;
    while (s) {
        int i = lowbit(s);
        s &= s - 1;
        if (i < MAXTOK && f(at(x, i))) o |= B(i + 1);
    }
    return o;
}
static inline ps_t chr(const lx_t *x, ps_t s, int32_t ch) {
    ps_t o = 0;
    while (s) {
        int i = lowbit(s);
        s &= s - 1;
        if (i < MAXTOK && at(x, i) == ch) o |= B(i + 1);
    }
    return o;
}
static int32_t ascii_lower(int32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static inline ps_t chi(const lx_t *x, ps_t s, int32_t ch) { /* ASCII letters caseless */
    ps_t o = 0;
    while (s) {
        int i = lowbit(s);
        s &= s - 1;
        if (i < MAXTOK && ascii_lower(at(x, i)) == ascii_lower(ch)) o |= B(i + 1);
    }
    return o;
}
/* The rules' literal lists (alternatives; '^' makes the next letter case-sensitive). */
static const char ACRONYM_NEXT[] =
    "^About|^According|^Additionally|^After|^An|^A|^As|^At|^But|^Earlier|^He|^Her|^Here|^However|"
    "^If|^In|^It|^Last|^Many|^More|^Mr.|^Ms.|^Now|^Once|^One|^Other|^Our|^She|^Since|^So|^Some|"
    "^Such|^That|^The|^Their|^Then|^There|^These|^They|^This|^We|^When|^While|^What|^Yet|^You";
static const char ABBREV1[] =
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Mon|Tue|Tues|Wed|Thu|Thurs|Fri|"
    "Ala|Ariz|^Az|^Ark|Calif|Colo|Conn|Ct|Dak|^Del|Fla|Ga|^Ill|Ind|Kan|Kans|Ky|^La|^Mass|Md|Mich|"
    "Minn|^Miss|Mo|Mont|Neb|Nev|Okla|^Ore|^Pa|Penn|Tenn|^Tex|Va|Vt|^Wash|Wis|Wisc|Wyo|"
    "Inc|Co|Cos|Corp|Pt^y|Pt^e|Pt^ys|Pt^es|Ppt^y|Ppt^e|Ppt^ys|Ppt^es|Ltd|Plc|Rt|Bancorp|Bhd|Assn|"
    "Univ|Intl|Sys|tel|est|ext|sq|Jr|Sr|Bros|Ed.D|Ph.D|Blvd|Rd|Esq|etc|al|seq|Bldg";
static const char ABBREV4[] =
    "Mr|Mrs|Ms|^Miss|Dr|Drs|Prof|Profs|Sen|Sens|Rep|Reps|Atty|Attys|Lt|Col|Gen|Messrs|Gov|Govs|"
    "Adm|Rev|Maj|Sgt|Cpl|Pvt|Capt|St|Ste|Ave|Pres|Lieut|Hon|Brig|Cmdr|Comdr|Pfc|Spc|Supt|Supts|Det|"
    "Mt|Ft|Adj|Adv|Asst|Assoc|Ens|Insp|Mlle|Mme|Msgr|Sfc|vs|Alex|Wm|Jos|Cie|a.k.a|cf|TREAS|Ph|"
    "Invt|Elec|Natl|M^fg|M^tg|Dept";
static const char FILE_EXT[] =
    "bat|bmp|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm|html|jar|java|jpeg|jpg|mov|mp3|pdf|"
    "php|pl|png|ppt|ps|py|sql|tar|txt|wav|x|xml|zip";
static const char ABBREV3[] = "ca|fig|figs|prop|no|nos|art|bldg|pp|op";
static const char PTY[] = "pte|pty|co";
static const char TBSPEC[] = "-RRB-|-LRB-|-RCB-|-LCB-|-RSB-|-LSB-|C.D.s|pro-|anti-|S&P-500|S&amp;P-500|S&Ls|S&amp;Ls";
static const char APOWORDS[] = "cont'd|cont'd.|'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l";

/* The long literal lists, their alternatives grouped by first letter (built
 * once): lits1 then compares only the few that can match. */
enum { NLISTS = 8 };
typedef struct {
    const char *alts;
    char *by_first[128];
} litidx_t;
static litidx_t LIT_INDEX[NLISTS];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_lit_index(void) {
    const char *lists[NLISTS] = {ACRONYM_NEXT, ABBREV1, ABBREV3, ABBREV4, FILE_EXT, PTY, TBSPEC, APOWORDS};
    for (int l = 0; l < NLISTS; l++) {
        litidx_t *ix = &LIT_INDEX[l];
        ix->alts = lists[l];
        for (const char *a = lists[l]; *a;) {
            size_t n = strcspn(a, "|");
            int key = ascii_lower((unsigned char)a[a[0] == '^']) & 127;
            char *old = ix->by_first[key];
            ix->by_first[key] = old ? xasprintf("%s|%.*s", old, (int)n, a) : xasprintf("%.*s", (int)n, a);
            free(old);
            a += n + (a[n] == '|');
        }
    }
}

static void build_rule_first(void);

static void build_tables(void) {
    build_rule_first();
    build_lit_index();
}

/* lits() from one position: plain character comparisons. */
static ps_t lits1(const lx_t *x, int i, const char *a) {
    ps_t out = 0;
    for (int l = 0; l < NLISTS; l++) {
        if (LIT_INDEX[l].alts != a) continue;
        int32_t c = at(x, i);
        if (c <= 0 || c >= 128 || !(a = LIT_INDEX[l].by_first[ascii_lower(c)])) return 0;
        break;
    }
    while (*a) {
        int j = i;
        for (; *a && *a != '|'; a++) {
            int exact = *a == '^';
            a += exact;
            int32_t c = at(x, j);
            if (j >= MAXTOK || (exact ? c != *a : ascii_lower(c) != ascii_lower(*a))) {
                while (*a && *a != '|') a++;
                j = -1;
                break;
            }
            j++;
        }
        if (j >= 0) out |= B(j);
        a += *a == '|';
    }
    return out;
}

/* Alternatives "ab|cd" matched caselessly; '^' before a letter makes it exact. */
static ps_t lits(const lx_t *x, ps_t s, const char *alts) {
    if (!s) return 0;
    if (!(s & (s - 1))) return lits1(x, lowbit(s), alts);
    ps_t out = 0, cur = s;
    for (const char *a = alts;; a++) {
        if (*a == '|' || !*a) {
            out |= cur;
            cur = s;
            if (!*a) return out;
        } else if (!cur) { /* this alternative failed: skip to the next */
            a += strcspn(a, "|") - 1;
        } else if (*a == '^') {
            cur = chr(x, cur, *++a);
        } else {
            cur = chi(x, cur, *a);
        }
    }
}
static ps_t any_of(const lx_t *x, ps_t s, const char *set) {
    ps_t o = 0;
    for (; *set; set++) o |= chr(x, s, *set);
    return o;
}
static ps_t star(const lx_t *x, ps_t s, pred_t f) {
    ps_t acc = s, fr = s;
    while ((fr = step(x, fr, f) & ~acc)) acc |= fr;
    return acc;
}
static ps_t plus(const lx_t *x, ps_t s, pred_t f) { return star(x, step(x, s, f), f); }
static ps_t rep(const lx_t *x, ps_t s, pred_t f, int lo, int hi) {
    ps_t acc = 0;
    for (int k = 0; k <= hi && s; k++, s = step(x, s, f))
        if (k >= lo) acc |= s;
    return acc;
}
/* (g)* and (g)+ for a sub-pattern g. */
static ps_t gstar(const lx_t *x, ps_t s, pat_t g) {
    ps_t acc = s, fr = s;
    while ((fr = g(x, fr) & ~acc)) acc |= fr;
    return acc;
}
static ps_t gplus(const lx_t *x, ps_t s, pat_t g) { return gstar(x, g(x, s), g); }
/* One space or line break (\r\n counts as one). */
static ps_t spacenl(const lx_t *x, ps_t s) {
    return step(x, s, p_space) | step(x, s, p_nl1) | chr(x, chr(x, s, '\r'), '\n');
}

/* --- patterns --------------------------------------------------------------- */

static ps_t sentp_word(const lx_t *x, ps_t s) {
    return star(x, step(x, step(x, s, p_sentp), p_letter), p_letdig);
}
/* WORD: letters and digits, with .!? between letters ("dogs.A"). */
static ps_t pat_word(const lx_t *x, ps_t s) { return gstar(x, star(x, step(x, s, p_letter), p_letdig), sentp_word); }
/* 's 'm 'd 're 've 'll */
static ps_t pat_redaux(const lx_t *x, ps_t s) {
    s = step(x, s, p_apos);
    return any_of(x, s, "msdMSD") | lits(x, s, "re|ve|ll");
}
static ps_t pat_sredaux(const lx_t *x, ps_t s) { return chi(x, step(x, chi(x, s, 'n'), p_aposetc), 't'); }
static ps_t pat_sword(const lx_t *x, ps_t s) { return star(x, step(x, star(x, s, p_alpha_shy), p_alpha_not_n), p_shy); }
static ps_t thing_seg(const lx_t *x, ps_t s) {
    ps_t pre = step(x, step(x, any_of(x, s, "dDoOlL"), p_aposetc), p_jletdig);
    return plus(x, s | pre, p_jletdig);
}
static ps_t thing_more(const lx_t *x, ps_t s) { return thing_seg(x, step(x, s, p_hyphen)); }
/* THING: alphanumeric runs joined by hyphens or underscores ("3-year-old"). */
static ps_t pat_thing(const lx_t *x, ps_t s) { return gstar(x, thing_seg(x, s), thing_more); }
static ps_t dot_alpha(const lx_t *x, ps_t s) { return step(x, chr(x, s, '.'), p_alpha); }
/* ACRO: letters separated by periods ("u.s"). */
static ps_t pat_acro(const lx_t *x, ps_t s) { return gstar(x, step(x, s, p_alpha), dot_alpha); }
static ps_t pat_acro2(const lx_t *x, ps_t s) { return gplus(x, step(x, s, p_alpha), dot_alpha); }
static ps_t hthing_seg(const lx_t *x, ps_t s) {
    s = chr(x, s, '-');
    return plus(x, s, p_alnum_shy) | chr(x, pat_acro2(x, s), '.');
}
/* HTHING: "1.5-inch", "u.s.-made". */
static ps_t pat_hthing(const lx_t *x, ps_t s) {
    return gplus(x, star(x, step(x, s, p_alnum), p_hthing_head), hthing_seg);
}
static ps_t thinga_more(const lx_t *x, ps_t s) {
    return plus(x, any_of(x, s, "+&") | lits(x, s, "&amp;"), p_AZ);
}
/* THINGA: "AT&T". */
static ps_t pat_thinga(const lx_t *x, ps_t s) { return gplus(x, plus(x, s, p_AZ), thinga_more); }
static ps_t num_group(const lx_t *x, ps_t s) { return plus(x, step(x, s, p_numsep), p_digit); }
static ps_t pat_number(const lx_t *x, ps_t s) {
    s |= any_of(x, s, "-+");
    return plus(x, s, p_digit) | gplus(x, star(x, s, p_digit), num_group);
}
static ps_t pat_date(const lx_t *x, ps_t s) {
    s = any_of(x, rep(x, s, p_digit, 1, 2), "-/");
    s = any_of(x, rep(x, s, p_digit, 1, 2), "-/");
    return rep(x, s, p_digit, 2, 4);
}
static ps_t pat_frac(const lx_t *x, ps_t s) {
    ps_t w = rep(x, s, p_digit, 1, 4);
    w = rep(x, s | any_of(x, w, "- ") | chr(x, w, 0xA0), p_digit, 1, 4);
    w = chr(x, w | chr(x, w, '\\'), '/') | chr(x, w, 0x2044);
    return rep(x, w, p_digit, 1, 4);
}
static ps_t t3_word(const lx_t *x, ps_t s) {
    s = plus(x, s, p_alnum);
    ps_t a = plus(x, chr(x, s, '-'), p_alpha);
    return s | a | plus(x, chr(x, a, '-'), p_alpha);
}
static ps_t t3_slash(const lx_t *x, ps_t s) { return t3_word(x, chr(x, s | chr(x, s, '\\'), '/')); }
/* THING3: "and/or", "w/o". */
static ps_t pat_thing3(const lx_t *x, ps_t s) {
    ps_t a = t3_slash(x, t3_word(x, s));
    return a | t3_slash(x, a);
}
static ps_t pat_abbrev1(const lx_t *x, ps_t s) { return chr(x, lits(x, s, ABBREV1), '.'); }
static ps_t pat_abbrev4(const lx_t *x, ps_t s) { return lits(x, s, ABBREV4) | pat_acro(x, s); }
static ps_t sgml_attr(const lx_t *x, ps_t s) {
    ps_t name = star(x, step(x, plus(x, s, p_space_only), p_alpha), p_sgml_name);
    ps_t eq = star(x, chr(x, star(x, name, p_space_only), '='), p_space_only);
    ps_t val = chr(x, star(x, chr(x, eq, '\''), p_not_squote), '\'') |
               chr(x, star(x, chr(x, eq, '"'), p_not_dquote), '"');
    return name | val;
}
static ps_t pat_sgml(const lx_t *x, ps_t s) {
    s = chr(x, s, '<');
    ps_t decl = star(x, step(x, any_of(x, s, "!?"), p_sgml_alpha_dash), p_sgml_decl);
    ps_t tag = gstar(x, star(x, step(x, s, p_alpha), p_sgml_name), sgml_attr);
    tag = star(x, tag, p_space_only);
    tag |= chr(x, tag, '/');
    ps_t end = star(x, step(x, chr(x, s, '/'), p_alpha), p_sgml_name);
    return chr(x, star(x, decl | tag | end, p_space_only), '>');
}
static ps_t www_label(const lx_t *x, ps_t s) { return chr(x, plus(x, s, p_www_label), '.'); }
static ps_t url_label(const lx_t *x, ps_t s) { return chr(x, plus(x, s, p_url_label), '.'); }
static ps_t pat_likelyurl(const lx_t *x, ps_t s) {
    ps_t host = rep(x, gplus(x, lits(x, s, "www."), www_label), p_alpha, 2, 4) |
                lits(x, gplus(x, s, url_label), "com|net|org|edu");
    return host | step(x, plus(x, chr(x, host, '/'), p_url_path), p_url_end);
}
static ps_t mail_label(const lx_t *x, ps_t s) { return chr(x, plus(x, s, p_mail_label), '.'); }
static ps_t pat_email(const lx_t *x, ps_t s) {
    s |= chr(x, s, '<') | lits(x, s, "&lt;");
    ps_t at_ = chr(x, star(x, step(x, s, p_alnum), p_mail_local), '@');
    ps_t dom = plus(x, gstar(x, at_, mail_label), p_mail_label);
    return dom | chr(x, dom, '>') | lits(x, dom, "&gt;");
}
static ps_t pat_phone(const lx_t *x, ps_t s) {
    ps_t plus_ = s | chr(x, s, '+') | chr(x, chr(x, s, '+'), '+');
    ps_t paren = chr(x, rep(x, chr(x, s, '('), p_09, 2, 3), ')');
    paren |= step(x, paren, p_sp_nbsp);
    ps_t pre = step(x, rep(x, plus_, p_09, 2, 4), p_phone_sep);
    ps_t area = step(x, rep(x, plus_ | pre, p_09, 2, 4), p_phone_sep);
    ps_t mid = rep(x, paren | area, p_09, 3, 4);
    ps_t a1 = rep(x, mid | step(x, mid, p_phone_sep), p_09, 3, 5);
    ps_t dot = chr(x, rep(x, plus_, p_09, 2, 4), '.');
    ps_t a2 = chr(x, rep(x, s | dot, p_09, 2, 4), '.');
    a2 = rep(x, chr(x, rep(x, a2, p_09, 3, 4), '.'), p_09, 3, 5);
    return a1 | a2;
}
static ps_t pat_smiley(const lx_t *x, ps_t s) {
    s |= any_of(x, s, "<>");
    s = any_of(x, s, ":;=");
    s |= any_of(x, s, "-o*'");
    return any_of(x, s, "()DPdpO\\{@|[]");
}
static ps_t pat_asian_smiley(const lx_t *x, ps_t s) {
    static const char E[] = "-^x=~<>'", F[] = "^x=~<>'", G[] = "^x=~<>'`";
    ps_t a = any_of(x, chr(x, any_of(x, s, E), '_'), E);
    ps_t p = any_of(x, chr(x, s, '('), E);
    ps_t b = chr(x, any_of(x, p | any_of(x, p, "_."), E), ')');
    ps_t c = chr(x, any_of(x, chr(x, any_of(x, chr(x, s, '('), F), '-'), G), ')');
    return a | b | c;
}
static ps_t pat_ldots(const lx_t *x, ps_t s) {
    ps_t pair = s, acc = 0;
    for (int k = 1; k <= 4; k++) {
        pair = step(x, chr(x, pair, '.'), p_sp_nbsp);
        if (k >= 2) acc |= chr(x, pair, '.');
    }
    return rep(x, s, p_dot, 3, 5) | acc | chr(x, s, 0x85) | chr(x, s, 0x2026);
}
static ps_t pat_quotes(const lx_t *x, ps_t s) {
    return step(x, s, p_apos) | lits(x, s, "''") | rep(x, s, p_quote_char, 1, 2);
}
static ps_t pat_apoword(const lx_t *x, ps_t s) {
    ps_t a = step(x, s, p_apos);
    ps_t r = chi(x, a, 'n');
    r |= step(x, r, p_apos);
    r |= step(x, any_of(x, s, "lLdDjJ") | lits(x, s, "Dunkin|somethin|ol"), p_apos);
    r |= lits(x, a, "em|till|til|cause");
    r |= star(x, rep(x, step(x, any_of(x, s, "ABCDEFGHJKLMNOPQRSTUVWXZn"), p_aposetc), cat_letter, 2, 2), cat_letter);
    r |= chi(x, chr(x, step(x, a, p_2_9), '0'), 's');
    ps_t v = step(x, step(x, plus(x, s, cat_letter), p_vowel_y), p_aposetc);
    r |= star(x, step(x, v, p_vowel_or_upper), cat_letter);
    r |= lits(x, s, APOWORDS);
    r |= chi(x, step(x, chi(x, s, 'o'), p_aposetc), 'o');
    return r;
}

/* --- rules ------------------------------------------------------------------- */

/* A match: characters emitted as the token, characters consumed (fewer than
 * emitted when the rule pushes its last character back, as "etc." then "."). */
typedef struct { int emit, adv; } cut_t;

static int whole(ps_t e, cut_t *k) {
    if (!e) return 0;
    k->emit = k->adv = highbit(e);
    return k->emit;
}
/* Rule r1/r2 (r2 is trailing context): the longest r1 r2; the token is the
 * longest r1 that reaches it. */
static int with_ctx(const lx_t *x, ps_t s1, pat_t r2, cut_t *k) {
    int best = 0;
    while (s1) {
        int e = highbit(s1);
        s1 &= ~B(e);
        ps_t t = r2(x, B(e));
        if (t && highbit(t) > best) {
            best = highbit(t);
            k->emit = k->adv = e;
        }
    }
    return best;
}
/* A fixed literal of which only the first `keep` characters are the token. */
static int split_lit(const lx_t *x, const char *alts, int keep, cut_t *k) {
    int t = whole(lits(x, B(0), alts), k);
    if (t) k->emit = k->adv = keep;
    return t;
}
/* "etc." before a sentence end: the token keeps its period and the period is
 * also returned again as the next token. */
static int twice_period(int t, cut_t *k) {
    if (t) k->adv = k->emit - 1;
    return t;
}

static ps_t c_redaux(const lx_t *x, ps_t s) { return pat_redaux(x, s); }
static ps_t c_sredaux(const lx_t *x, ps_t s) { return pat_sredaux(x, s); }
static ps_t c_letter(const lx_t *x, ps_t s) { return step(x, s, cat_letter); }
static ps_t c_not_alpha(const lx_t *x, ps_t s) { return step(x, s, p_not_alpha); }
static ps_t c_not_alnum(const lx_t *x, ps_t s) { return step(x, s, p_not_alnum); }
static ps_t c_insentp(const lx_t *x, ps_t s) { return step(x, s, p_insentp); }
static ps_t c_space(const lx_t *x, ps_t s) { return step(x, s, p_space); }
static ps_t c_dbl_next(const lx_t *x, ps_t s) { return step(x, s, p_dbl_next); }
static ps_t c_two(const lx_t *x, ps_t s) { return step(x, step(x, s, p_any), p_any); }
static ps_t c_spacenl_or_end(const lx_t *x, ps_t s) { return spacenl(x, s) | any_of(x, s, ".?!,"); }
static ps_t c_digit_after(const lx_t *x, ps_t s) { return step(x, s | spacenl(x, s), p_digit); }
static ps_t c_ltd(const lx_t *x, ps_t s) { return lits(x, step(x, s, p_space), "ltd|lim"); }
static ps_t c_inv_quote(const lx_t *x, ps_t s) { return step(x, step(x, s, p_alpha), p_not_space_nl); }
static ps_t c_sentend(const lx_t *x, ps_t s) {
    s = spacenl(x, s);
    return spacenl(x, s) | step(x, s, p_upper) | pat_sgml(x, s);
}
static ps_t c_acronym_next(const lx_t *x, ps_t s) {
    s = gplus(x, s, spacenl);
    return spacenl(x, lits(x, s, ACRONYM_NEXT) | pat_sgml(x, s));
}
static ps_t dot_letdig(const lx_t *x, ps_t s) { return plus(x, chr(x, s, '.'), p_letdig); }

static int r_cpp(const lx_t *x, cut_t *k) { return whole(lits(x, B(0), "c++|c#|f#"), k); }
static int r_cannot(const lx_t *x, cut_t *k) { return split_lit(x, "cannot", 3, k); }
static int r_twas(const lx_t *x, cut_t *k) { return split_lit(x, "'twas|'tis", 2, k); }
static int r_gonna(const lx_t *x, cut_t *k) { return split_lit(x, "gonna|gotta|lemme|gimme|wanna", 3, k); }
static int r_sgml(const lx_t *x, cut_t *k) { return whole(pat_sgml(x, B(0)), k); }
static int r_spmdash(const lx_t *x, cut_t *k) {
    return whole(lits(x, B(0), "&MD;|&mdash;|&ndash;") | step(x, B(0), p_mdash), k);
}
static int r_spamp(const lx_t *x, cut_t *k) { return whole(lits(x, B(0), "&amp;"), k); }
static int r_sppunc(const lx_t *x, cut_t *k) {
    ps_t e = lits(x, B(0), "&HT;|&TL;|&UR;|&LR;|&QC;|&QL;|&QR;|&odq;|&cdq;");
    return whole(e | chr(x, plus(x, lits(x, B(0), "&#"), p_09), ';'), k);
}
static int r_word_redaux(const lx_t *x, cut_t *k) { return with_ctx(x, pat_word(x, B(0)), c_redaux, k); }
static int r_sword(const lx_t *x, cut_t *k) { return with_ctx(x, pat_sword(x, B(0)), c_sredaux, k); }
static int r_word(const lx_t *x, cut_t *k) { return whole(pat_word(x, B(0)), k); }
static int r_apoword(const lx_t *x, cut_t *k) { return whole(pat_apoword(x, B(0)), k); }
static int r_apoword2(const lx_t *x, cut_t *k) { return with_ctx(x, step(x, chi(x, B(0), 'y'), p_apos), c_letter, k); }
static int r_fullurl(const lx_t *x, cut_t *k) {
    return whole(step(x, plus(x, lits(x, B(0), "http://|https://"), p_url), p_url_end), k);
}
static int r_likelyurl(const lx_t *x, cut_t *k) { return whole(pat_likelyurl(x, B(0)), k); }
static int r_email(const lx_t *x, cut_t *k) { return whole(pat_email(x, B(0)), k); }
static int r_twitter(const lx_t *x, cut_t *k) {
    ps_t name = star(x, step(x, chr(x, B(0), '@'), p_twitter_head), p_twitter_tail);
    return whole(name | plus(x, chr(x, B(0), '#'), p_letter), k);
}
static int r_redaux_ctx(const lx_t *x, cut_t *k) { return with_ctx(x, pat_redaux(x, B(0)), c_not_alpha, k); }
static int r_sredaux_ctx(const lx_t *x, cut_t *k) { return with_ctx(x, pat_sredaux(x, B(0)), c_not_alpha, k); }
static int r_date(const lx_t *x, cut_t *k) { return whole(pat_date(x, B(0)), k); }
static int r_number(const lx_t *x, cut_t *k) { return whole(pat_number(x, B(0)), k); }
static int r_subsup(const lx_t *x, cut_t *k) {
    ps_t s = B(0) | step(x, B(0), p_subsup_sign);
    return whole(plus(x, s, p_supnum) | plus(x, s, p_subnum), k);
}
static int r_frac(const lx_t *x, cut_t *k) { return whole(pat_frac(x, B(0)), k); }
static int r_frac2(const lx_t *x, cut_t *k) { return whole(step(x, B(0), p_frac2), k); }
static int r_tbspec(const lx_t *x, cut_t *k) {
    ps_t e = lits(x, B(0), TBSPEC);
    e |= chi(x, step(x, lits(x, B(0), "cap"), p_apos), 'n') | lits(x, step(x, chi(x, B(0), 'c'), p_apos), "est");
    return whole(e, k);
}
static int r_thing3(const lx_t *x, cut_t *k) { return whole(pat_thing3(x, B(0)), k); }
static int r_dolsign(const lx_t *x, cut_t *k) { return whole(chr(x, star(x, B(0), p_AZ), '$') | chr(x, B(0), '#'), k); }
static int r_dolsign2(const lx_t *x, cut_t *k) { return whole(step(x, B(0), p_currency), k); }
static int r_acronym(const lx_t *x, cut_t *k) {
    int t = with_ctx(x, chr(x, pat_acro(x, B(0)), '.'), c_acronym_next, k);
    if (t && k->emit == 2) k->emit = k->adv = 1; /* "I." -> "I", then "." */
    else if (t) k->adv = k->emit - 1;
    return t;
}
static int r_abbrev3(const lx_t *x, cut_t *k) {
    ps_t a = chr(x, lits(x, B(0), ABBREV3), '.');
    return with_ctx(x, a, c_digit_after, k);
}
static int r_pty(const lx_t *x, cut_t *k) { return with_ctx(x, chr(x, lits(x, B(0), PTY), '.'), c_ltd, k); }
/* Consecutive rules sharing a pattern, matched once: the longest of the
 * variants wins, ties to the earlier, as separate rules would. */
static int best_of(int t, cut_t *k, int t2, const cut_t *k2) {
    if (t2 > t) *k = *k2;
    return t2 > t ? t2 : t;
}
/* ABBREV1 ("etc.", "Calif."): before a sentence end (then the period is also
 * the next token), before two more characters, or at the end of the text. */
static int r_abbrev1(const lx_t *x, cut_t *k) {
    ps_t a = pat_abbrev1(x, B(0));
    if (!a) return 0;
    cut_t k2, k3;
    int t = twice_period(with_ctx(x, a, c_sentend, k), k);
    t = best_of(t, k, with_ctx(x, a, c_two, &k2), &k2);
    return best_of(t, k, twice_period(whole(a, &k3), &k3), &k3);
}
/* ABBREV2 ("Mr.", "u.s.") and ABBREV4 before a space. */
static int r_abbrev2_4(const lx_t *x, cut_t *k) {
    ps_t a = pat_abbrev4(x, B(0));
    if (!a) return 0;
    cut_t k2;
    int t = whole(chr(x, a, '.'), k);
    return best_of(t, k, with_ctx(x, a, c_space, &k2), &k2);
}
static int r_acro(const lx_t *x, cut_t *k) { return with_ctx(x, pat_acro(x, B(0)), spacenl, k); }
static int r_tbspec2(const lx_t *x, cut_t *k) { return with_ctx(x, rep(x, step(x, B(0), p_apos), p_09, 2, 2), spacenl, k); }
static int r_filename(const lx_t *x, cut_t *k) {
    ps_t s = gstar(x, plus(x, B(0), p_letdig), dot_letdig);
    return with_ctx(x, lits(x, chr(x, s, '.'), FILE_EXT), c_spacenl_or_end, k);
}
static int r_word_dot(const lx_t *x, cut_t *k) { return with_ctx(x, chr(x, pat_word(x, B(0)), '.'), c_insentp, k); }
static int r_phone(const lx_t *x, cut_t *k) { return whole(pat_phone(x, B(0)), k); }
static int r_dblquot_left(const lx_t *x, cut_t *k) { return with_ctx(x, chr(x, B(0), '"'), c_dbl_next, k); }
static int r_dblquot(const lx_t *x, cut_t *k) { return whole(chr(x, B(0), '"'), k); }
static int r_del(const lx_t *x, cut_t *k) { return whole(chr(x, B(0), 0x7F), k); }
static int r_lt(const lx_t *x, cut_t *k) { return whole(lits(x, B(0), "<|&lt;"), k); }
static int r_gt(const lx_t *x, cut_t *k) { return whole(lits(x, B(0), ">|&gt;"), k); }
static int r_smiley(const lx_t *x, cut_t *k) { return with_ctx(x, pat_smiley(x, B(0)), c_not_alnum, k); }
static int r_asian(const lx_t *x, cut_t *k) { return whole(pat_asian_smiley(x, B(0)), k); }
static int r_bracket(const lx_t *x, cut_t *k) { return whole(any_of(x, B(0), "{}[]()"), k); }
static int r_hyphens(const lx_t *x, cut_t *k) { return whole(plus(x, B(0), p_minus), k); }
static int r_ldots(const lx_t *x, cut_t *k) { return whole(pat_ldots(x, B(0)), k); }
static int r_fnmarks(const lx_t *x, cut_t *k) {
    return whole(plus(x, B(0), p_at) | plus(x, B(0), p_hash) | plus(x, B(0), p_under), k);
}
static int r_asts(const lx_t *x, cut_t *k) {
    ps_t s = B(0), e = plus(x, B(0), p_star);
    for (int i = 0; i < 3 && (s = chr(x, chr(x, s, '\\'), '*')); i++) e |= s;
    return whole(e, k);
}
static int r_insentp(const lx_t *x, cut_t *k) { return whole(step(x, B(0), p_insentp), k); }
static int r_qex(const lx_t *x, cut_t *k) { return whole(plus(x, B(0), p_qex), k); }
static int r_period(const lx_t *x, cut_t *k) { return whole(step(x, B(0), p_period_like), k); }
static int r_eq_slash(const lx_t *x, cut_t *k) { return whole(any_of(x, B(0), "=/"), k); }
static int r_hthing_dot(const lx_t *x, cut_t *k) { return with_ctx(x, chr(x, pat_hthing(x, B(0)), '.'), c_insentp, k); }
static int r_hthing(const lx_t *x, cut_t *k) { return whole(pat_hthing(x, B(0)), k); }
static int r_thing_dot(const lx_t *x, cut_t *k) { return with_ctx(x, chr(x, pat_thing(x, B(0)), '.'), c_insentp, k); }
static int r_thing(const lx_t *x, cut_t *k) { return whole(pat_thing(x, B(0)), k); }
static int r_thinga_dot(const lx_t *x, cut_t *k) { return with_ctx(x, chr(x, pat_thinga(x, B(0)), '.'), c_insentp, k); }
static int r_thinga(const lx_t *x, cut_t *k) { return whole(pat_thinga(x, B(0)), k); }
static int r_inv_quote(const lx_t *x, cut_t *k) { return with_ctx(x, chr(x, B(0), '\''), c_inv_quote, k); }
static int r_redaux(const lx_t *x, cut_t *k) { return whole(pat_redaux(x, B(0)), k); }
static int r_sredaux(const lx_t *x, cut_t *k) { return whole(pat_sredaux(x, B(0)), k); }
static int r_quotes(const lx_t *x, cut_t *k) { return whole(pat_quotes(x, B(0)), k); }
static int r_duckfeet(const lx_t *x, cut_t *k) { return whole(lits(x, B(0), "<<|>>"), k); }
static int r_misc(const lx_t *x, cut_t *k) { return whole(step(x, B(0), p_misc), k); }
static int r_space(const lx_t *x, cut_t *k) { return whole(plus(x, B(0), p_space) | step(x, B(0), p_ignorable), k); }
static int r_newline(const lx_t *x, cut_t *k) { return whole(step(x, B(0), p_nl1) | chr(x, chr(x, B(0), '\r'), '\n'), k); }
static int r_nbsp(const lx_t *x, cut_t *k) { return whole(lits(x, B(0), "&nbsp;"), k); }

/* What a rule's token becomes. */
enum {
    A_TEXT,     /* as matched */
    A_SOFT,     /* soft hyphens removed ("-" if nothing is left) */
    A_AMP,      /* &amp; -> & */
    A_CONST,    /* the rule's fixed string */
    A_BRACKET,  /* ( ) { } [ ] -> -LRB- -RRB- -LCB- -RCB- -LSB- -RSB- */
    A_QLEFT,    /* quotes, probably opening: ' -> `, " -> `` */
    A_QRIGHT,   /* quotes, probably closing: ' -> ', " -> '' */
    A_NBSP,     /* spaces -> U+00A0 */
    A_PHONE,    /* spaces -> U+00A0, parentheses -> -LRB- -RRB- */
    A_PARENS,   /* parentheses -> -LRB- -RRB- */
    A_CURRENCY, /* cent -> cents, pound -> #, euro and generic -> $ */
    A_FRAC2,    /* vulgar fractions -> 1/2 ... */
    A_HYPHENS,  /* 3 or 4 hyphens -> -- */
    A_SKIP,     /* whitespace: no token */
    A_NL,       /* a line break */
};

/* Which ASCII characters a rule's match can start with (a predicate,
 * tabulated once) and whether it can start with a non-ASCII one: rules that
 * cannot start with the current character are not tried. */
static int f_cpp(int32_t c) { return in_ascii(c, "cCfF"); }
static int f_c(int32_t c) { return c == 'c' || c == 'C'; }
static int f_quote(int32_t c) { return c == '\''; }
static int f_gonna(int32_t c) { return in_ascii(c, "gGlLwW"); }
static int f_lt(int32_t c) { return c == '<'; }
static int f_amp(int32_t c) { return c == '&'; }
static int f_apoword(int32_t c) { return p_alpha(c) || c == '\''; }
static int f_y(int32_t c) { return c == 'y' || c == 'Y'; }
static int f_h(int32_t c) { return c == 'h' || c == 'H'; }
static int f_likelyurl(int32_t c) { return p_url_label(c) || c == 'w' || c == 'W'; }
static int f_email(int32_t c) { return p_alnum(c) || c == '<' || c == '&'; }
static int f_twitter(int32_t c) { return c == '@' || c == '#'; }
static int f_n(int32_t c) { return c == 'n' || c == 'N'; }
static int f_number(int32_t c) { return p_09(c) || in_ascii(c, "-+.:,"); }
static int f_none(int32_t c) { return 0 * c; }
static int f_tbspec(int32_t c) { return in_ascii(c, "-cCpPaAsS"); }
static int f_dolsign(int32_t c) { return p_AZ(c) || c == '$' || c == '#'; }
static int f_phone(int32_t c) { return p_09(c) || c == '(' || c == '+'; }
static int f_dquote(int32_t c) { return c == '"'; }
static int f_del(int32_t c) { return c == 0x7F; }
static int f_lt_amp(int32_t c) { return c == '<' || c == '&'; }
static int f_gt_amp(int32_t c) { return c == '>' || c == '&'; }
static int f_smiley(int32_t c) { return in_ascii(c, "<>:;="); }
static int f_asian(int32_t c) { return in_ascii(c, "-^x=~<>'("); }
static int f_bracket(int32_t c) { return in_ascii(c, "{}[]()"); }
static int f_fnmarks(int32_t c) { return in_ascii(c, "@#_"); }
static int f_asts(int32_t c) { return c == '*' || c == '\\'; }
static int f_qex(int32_t c) { return c == '?' || c == '!'; }
static int f_eq_slash(int32_t c) { return c == '=' || c == '/'; }
static int f_quotes(int32_t c) { return c == '\'' || c == '`'; }
static int f_duckfeet(int32_t c) { return c == '<' || c == '>'; }
static int f_space(int32_t c) { return c == ' ' || c == '\t' || c == 0; }

typedef struct {
    int (*fn)(const lx_t *, cut_t *);
    int act;
    const char *konst;
    pred_t first; /* possible ASCII first characters */
    int uni;      /* can start with a non-ASCII character */
} rule_t;

/* In the Java scanner's order: ties between equally long matches go to the
 * earlier rule. */
static const rule_t RULES[] = {
    {r_cpp, A_TEXT, 0, f_cpp, 0}, {r_cannot, A_TEXT, 0, f_c, 0}, {r_twas, A_TEXT, 0, f_quote, 0},
    {r_gonna, A_TEXT, 0, f_gonna, 0}, {r_sgml, A_NBSP, 0, f_lt, 0}, {r_spmdash, A_CONST, "--", f_amp, 1},
    {r_spamp, A_AMP, 0, f_amp, 0}, {r_sppunc, A_TEXT, 0, f_amp, 0}, {r_word_redaux, A_SOFT, 0, p_alpha, 1},
    {r_sword, A_SOFT, 0, p_alpha, 1}, {r_word, A_SOFT, 0, p_alpha, 1}, {r_apoword, A_TEXT, 0, f_apoword, 1},
    {r_apoword2, A_TEXT, 0, f_y, 0}, {r_fullurl, A_TEXT, 0, f_h, 0}, {r_likelyurl, A_TEXT, 0, f_likelyurl, 1},
    {r_email, A_TEXT, 0, f_email, 0}, {r_twitter, A_TEXT, 0, f_twitter, 0}, {r_redaux_ctx, A_QRIGHT, 0, f_quote, 1},
    {r_sredaux_ctx, A_QRIGHT, 0, f_n, 0}, {r_date, A_TEXT, 0, p_09, 1}, {r_number, A_SOFT, 0, f_number, 1},
    {r_subsup, A_TEXT, 0, f_none, 1}, {r_frac, A_NBSP, 0, p_09, 1}, {r_frac2, A_FRAC2, 0, f_none, 1},
    {r_tbspec, A_AMP, 0, f_tbspec, 0}, {r_thing3, A_TEXT, 0, p_alnum, 0}, {r_dolsign, A_TEXT, 0, f_dolsign, 0},
    {r_dolsign2, A_CURRENCY, 0, f_none, 1}, {r_acronym, A_TEXT, 0, p_alpha, 0}, {r_abbrev3, A_TEXT, 0, p_alpha, 0},
    {r_pty, A_TEXT, 0, p_alpha, 0}, {r_abbrev1, A_TEXT, 0, p_alpha, 0}, {r_abbrev2_4, A_TEXT, 0, p_alpha, 0},
    {r_acro, A_TEXT, 0, p_alpha, 0}, {r_tbspec2, A_TEXT, 0, f_quote, 1}, {r_filename, A_TEXT, 0, p_alnum, 1},
    {r_word_dot, A_SOFT, 0, p_alpha, 1}, {r_phone, A_PHONE, 0, f_phone, 0}, {r_dblquot_left, A_QLEFT, 0, f_dquote, 0},
    {r_dblquot, A_QRIGHT, 0, f_dquote, 0}, {r_del, A_SKIP, 0, f_del, 0}, {r_lt, A_CONST, "<", f_lt_amp, 0},
    {r_gt, A_CONST, ">", f_gt_amp, 0}, {r_smiley, A_PARENS, 0, f_smiley, 0}, {r_asian, A_PARENS, 0, f_asian, 0},
    {r_bracket, A_BRACKET, 0, f_bracket, 0}, {r_hyphens, A_HYPHENS, 0, p_minus, 0},
    {r_ldots, A_CONST, "...", p_dot, 1}, {r_fnmarks, A_TEXT, 0, f_fnmarks, 0}, {r_asts, A_TEXT, 0, f_asts, 0},
    {r_insentp, A_TEXT, 0, p_insentp, 1}, {r_qex, A_TEXT, 0, f_qex, 0}, {r_period, A_TEXT, 0, p_dot, 1},
    {r_eq_slash, A_TEXT, 0, f_eq_slash, 0}, {r_hthing_dot, A_SOFT, 0, p_alnum, 0}, {r_hthing, A_SOFT, 0, p_alnum, 0},
    {r_thing_dot, A_TEXT, 0, p_alnum, 1}, {r_thing, A_TEXT, 0, p_alnum, 1}, {r_thinga_dot, A_AMP, 0, p_AZ, 0},
    {r_thinga, A_AMP, 0, p_AZ, 0}, {r_inv_quote, A_QLEFT, 0, f_quote, 0}, {r_redaux, A_QRIGHT, 0, f_quote, 1},
    {r_sredaux, A_QRIGHT, 0, f_n, 0}, {r_quotes, A_QRIGHT, 0, f_quotes, 1}, {r_duckfeet, A_TEXT, 0, f_duckfeet, 0},
    {r_misc, A_TEXT, 0, p_misc, 1}, {r_space, A_SKIP, 0, f_space, 1}, {r_newline, A_NL, 0, p_nl1, 1},
    {r_nbsp, A_SKIP, 0, f_amp, 0},
};

/* RULE_FIRST[c]: bit r set when rule r can start with ASCII character c. */
static uint64_t RULE_FIRST[128][2];
_Static_assert(ARRAY_LEN(RULES) <= 128, "RULE_FIRST holds 128 rules");

static void build_rule_first(void) {
    for (int c = 0; c < 128; c++)
        for (size_t r = 0; r < ARRAY_LEN(RULES); r++)
            if (RULES[r].first(c)) RULE_FIRST[c][r / 64] |= 1ull << (r % 64);
}

/* --- output ------------------------------------------------------------------ */

typedef DA(char) buf_t;

static void put_utf8(buf_t *b, int32_t c) {
    utf8proc_uint8_t u[4];
    utf8proc_ssize_t n = utf8proc_encode_char(c, u);
    da_reserve(b, b->n + (size_t)n);
    memcpy(b->v + b->n, u, (size_t)n);
    b->n += (size_t)n;
}

/* Java's toLowerCase(Locale.ENGLISH) of one token, appended. */
static void put_lower(buf_t *b, const int32_t *t, int n) {
    for (int i = 0; i < n; i++) {
        int32_t c = t[i];
        if (c < 0x80) {
            da_push(b, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
        } else if (c >= 0xD800 && c <= 0xDFFF) { /* a pair is one code point, a lone half '?' */
            int pair = c < 0xDC00 && i + 1 < n && t[i + 1] >= 0xDC00 && t[i + 1] <= 0xDFFF;
            put_utf8(b, pair ? 0x10000 + ((c - 0xD800) << 10) + (t[i + 1] - 0xDC00) : '?');
            i += pair;
        } else if (c == 0x130) { /* dotted capital I: i + combining dot */
            put_utf8(b, 'i');
            put_utf8(b, 0x307);
        } else if (c == 0x3A3) { /* sigma: final unless a cased letter follows (after digits, or . -) */
            int j = i + 1;
            while (j < n && p_digit(t[j])) j++;
            if (j == i + 1 && j + 1 < n && (t[j] == '.' || t[j] == '-')) j++;
            int final = i > 0 && cat_letter(t[i - 1]) && !(j < n && p_cased(t[j]));
            put_utf8(b, final ? 0x3C2 : 0x3C3);
        } else {
            put_utf8(b, utf8proc_tolower(c));
        }
    }
}

typedef DA(int32_t) cps_t;

static void push_str(cps_t *o, const char *s) {
    for (; *s; s++) da_push(o, (unsigned char)*s);
}
static int amp_at(const int32_t *t, int n, int i) {
    static const char amp[] = "&amp;";
    if (i + 5 > n) return 0;
    for (int j = 0; j < 5; j++)
        if (ascii_lower(t[i + j]) != amp[j]) return 0;
    return 1;
}

/* The token text of a match after the rule's normalization. */
static void normalize(cps_t *o, const rule_t *r, const int32_t *t, int n) {
    o->n = 0;
    if (r->act == A_CONST || (r->act == A_HYPHENS && n >= 3 && n <= 4)) {
        push_str(o, r->act == A_CONST ? r->konst : "--");
        return;
    }
    for (int i = 0; i < n; i++) {
        int32_t c = t[i];
        int a = r->act;
        if (a == A_SOFT && c == 0xAD) continue;
        if ((a == A_AMP) && amp_at(t, n, i)) { da_push(o, '&'); i += 4; continue; }
        if ((a == A_NBSP || a == A_PHONE) && c == ' ') c = 0xA0;
        if ((a == A_PHONE || a == A_PARENS || a == A_BRACKET) && (c == '(' || c == ')')) {
            push_str(o, c == '(' ? "-LRB-" : "-RRB-");
            continue;
        }
        if (a == A_BRACKET && (c == '{' || c == '}' || c == '[' || c == ']')) {
            push_str(o, c == '{' ? "-LCB-" : c == '}' ? "-RCB-" : c == '[' ? "-LSB-" : "-RSB-");
            continue;
        }
        if (a == A_QLEFT || a == A_QRIGHT) {
            int left = a == A_QLEFT;
            if (c == '\'') { push_str(o, left ? "`" : "'"); continue; }
            if (c == '"') { push_str(o, left ? "``" : "''"); continue; }
            if (c == 0x91 || c == 0x2018 || c == 0x201B || c == 0x2039) { push_str(o, "`"); continue; }
            if (c == 0x92 || c == 0x2019 || c == 0x203A) { push_str(o, "'"); continue; }
            if (c == 0x93 || c == 0x201C || c == 0xAB) { push_str(o, "``"); continue; }
            if (c == 0x94 || c == 0x201D || c == 0xBB) { push_str(o, "''"); continue; }
        }
        if (a == A_CURRENCY) {
            if (c == 0xA2) { push_str(o, "cents"); continue; }
            if (c == 0xA3) c = '#';
            if (c == 0x80 || c == 0xA4 || c == 0x20A0 || c == 0x20AC) c = '$';
        }
        if (a == A_FRAC2) {
            const char *f = c == 0xBC ? "1/4" : c == 0xBD ? "1/2" : c == 0xBE ? "3/4"
                          : c == 0x2153 ? "1/3" : c == 0x2154 ? "2/3" : NULL;
            if (f) { push_str(o, f); continue; }
        }
        da_push(o, c);
    }
    if (r->act == A_SOFT && o->n == 0) da_push(o, '-');
}

static int ends_token(int32_t c) { return c == ' ' || c == '\n' || c == -1; }

/* Whether the i letters at the token start spell a word of list `alts`. */
static int is_word_of(const lx_t *x, int i, const char *alts) { return (lits1(x, 0, alts) & B(i)) != 0; }

/* The commonest tokens without trying every rule: a run of ASCII letters
 * followed by a space, a newline or the end, or by one of , ; : ! ? . and
 * then one of those (for "." unless the word is one letter or an
 * abbreviation the scanner keeps the period with), and a lone , or . before
 * one of those. Returns the token length, 0 for the full rules. */
static int fast_token(const lx_t *x) {
    int32_t c0 = at(x, 0);
    if ((c0 == ',' || c0 == '.') && ends_token(at(x, 1)) && !(c0 == '.' && at(x, 2) == '.')) return 1;
    int i = 0;
    while (i < MAXTOK && p_alpha(at(x, i))) i++;
    if (!i || i == MAXTOK) return 0;
    int32_t next = at(x, i);
    if (!ends_token(next)) {
        if (!(next > 0 && strchr(",;:!?.", next) && ends_token(at(x, i + 1)))) return 0;
        if (next == '.' && (i == 1 || is_word_of(x, i, ABBREV1) || is_word_of(x, i, ABBREV4) ||
                            is_word_of(x, i, ABBREV3) || is_word_of(x, i, PTY)))
            return 0;
    }
    if ((i == 5 || i == 6) && strchr("cglwCGLW", c0) && is_word_of(x, i, "cannot|gonna|gotta|lemme|gimme|wanna"))
        return 0;
    return i;
}

/* Tokenizes the tokens starting in [from, to) of the n code points (the
 * scanner still looks ahead past `to`), appending to out. Returns where the
 * next token starts: `to`, unless the last token ran past it. */
static int scan(const int32_t *cp, int n, int from, int to, buf_t *out) {
    static const rule_t fast_rule = {r_word, A_TEXT, 0, p_alpha, 0}, nl_rule = {r_newline, A_NL, 0, p_nl1, 0};
    lx_t x = {cp, n, from};
    cps_t tok = {0};
    int line_start = 1;
    while (x.p < to) {
        const rule_t *best = NULL;
        cut_t cut = {0, 0};
        int w = fast_token(&x);
        if (w) {
            best = &fast_rule;
            cut.emit = cut.adv = w;
        } else if (cp[x.p] == ' ') {
            x.p++;
            continue;
        } else if (cp[x.p] == '\n') {
            best = &nl_rule;
            cut.emit = cut.adv = 1;
        } else {
            int top = 0;
            int32_t c0 = cp[x.p];
            for (size_t r = 0; r < ARRAY_LEN(RULES); r++) {
                cut_t k;
                if (c0 < 0x80 ? !(RULE_FIRST[c0][r / 64] >> (r % 64) & 1) : !RULES[r].uni) continue;
                int t = RULES[r].fn(&x, &k);
                if (t > top) { top = t; best = &RULES[r]; cut = k; }
            }
        }
        if (!best) { /* untokenizable: deleted */
            x.p++;
            continue;
        }
        if (best->act == A_NL) {
            da_push(out, '\n');
            line_start = 1;
        } else if (best->act != A_SKIP) {
            if (!line_start) da_push(out, ' ');
            line_start = 0;
            if (best == &fast_rule) { /* ASCII letters, or a lone , or . */
                da_reserve(out, out->n + (size_t)cut.emit);
                for (int i = 0; i < cut.emit; i++) out->v[out->n++] = (char)ascii_lower(cp[x.p + i]);
            } else {
                normalize(&tok, best, cp + x.p, cut.emit);
                put_lower(out, tok.v, (int)tok.n);
            }
        }
        x.p += cut.adv;
    }
    free(tok.v);
    return x.p;
}

/* Large inputs are cut after line breaks into chunks scanned in parallel:
 * a chunk starts a line, as in one pass, and the scanner looks ahead across
 * the cut. A token running across a cut (only possible inside an SGML
 * attribute) makes the whole text go through one pass instead. */
enum { CHUNK_MIN = 1 << 15, CHUNKS_MAX = 16 };

typedef struct {
    const int32_t *cp;
    int n, cut[CHUNKS_MAX + 1], end[CHUNKS_MAX];
    buf_t out[CHUNKS_MAX];
} chunks_t;

static void scan_chunk(void *ctx, size_t i, int worker) {
    chunks_t *c = ctx;
    c->end[i] = scan(c->cp, c->n, c->cut[i], c->cut[i + 1], &c->out[i]);
}

static int scan_parallel(const int32_t *cp, int n, buf_t *out) {
    int workers = cpu_count(), k = n / CHUNK_MIN < 2 * workers ? n / CHUNK_MIN : 2 * workers;
    if (k > CHUNKS_MAX) k = CHUNKS_MAX;
    if (workers < 2 || k < 2) return 0;
    chunks_t c = {.cp = cp, .n = n};
    int m = 0;
    for (int j = 1; j < k; j++) {
        int at_ = (int)((int64_t)n * j / k);
        while (at_ < n && cp[at_ - 1] != '\n') at_++;
        if (at_ < n && at_ > c.cut[m]) c.cut[++m] = at_;
    }
    c.cut[++m] = n;
    pool_t *p = pool_new(workers);
    pool_for(p, (size_t)m, scan_chunk, &c);
    pool_free(p);
    int ok = 1;
    for (int i = 0; i < m; i++) ok &= c.end[i] == c.cut[i + 1];
    for (int i = 0; i < m; i++) {
        if (ok && c.out[i].n) {
            da_reserve(out, out->n + c.out[i].n);
            memcpy(out->v + out->n, c.out[i].v, c.out[i].n);
            out->n += c.out[i].n;
        }
        free(c.out[i].v);
    }
    return ok;
}

char *ptb_tokenize(const char *text, size_t len, size_t *out_len) {
    pthread_once(&tables_once, build_tables);
    int n;
    int32_t *cp = decode(text, len, &n);
    buf_t out = {0};
    if (!scan_parallel(cp, n, &out)) {
        out.n = 0;
        scan(cp, n, 0, n, &out);
    }
    da_push(&out, '\0');
    free(cp);
    if (out_len) *out_len = out.n - 1;
    return out.v;
}

/* --- pycocoevalcap's wrapper ------------------------------------------------- */

static int is_punct(const char *t, size_t n) {
    if (!n) return 0;
    switch (t[0]) {
    case '\'': case '`': case '-': case '.': case '?': case '!': case ',': case ':': case ';': break;
    default: return 0;
    }
    static const char *const P[] = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".",
                                    "?", "!", ",", ":", "-", "--", "...", ";"};
    for (size_t i = 0; i < ARRAY_LEN(P); i++)
        if (strlen(P[i]) == n && !memcmp(P[i], t, n)) return 1;
    return 0;
}

int py_isspace(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Length of s without trailing whitespace, like Python's str.rstrip(). */
static size_t rstrip_len(const char *s, size_t n) {
    while (n) {
        size_t start = n - 1;
        while (start && ((unsigned char)s[start] & 0xC0) == 0x80) start--; /* the last character */
        utf8proc_int32_t c = (unsigned char)s[start];
        if (c >= 0x80 && utf8proc_iterate((const utf8proc_uint8_t *)s + start, (utf8proc_ssize_t)(n - start), &c) < 1)
            c = 0xFFFD;
        if (!py_isspace(c)) break;
        n = start;
    }
    return n;
}

/* Line s[0..n) without trailing whitespace and punctuation tokens, to o
 * (room for n + 1 bytes); returns the bytes written, its NUL included. */
static size_t filter_line(const char *s, size_t n, char *o) {
    n = rstrip_len(s, n);
    size_t k = 0;
    for (size_t i = 0; i <= n;) {
        size_t e = i;
        while (e < n && s[e] != ' ') e++;
        if (!is_punct(s + i, e - i)) {
            if (k) o[k++] = ' ';
            memcpy(o + k, s + i, e - i);
            k += e - i;
        }
        i = e + 1;
    }
    o[k] = '\0';
    return k + 1;
}

char **ptb_tokenize_captions(const char *const *captions, size_t n) {
    buf_t in = {0};
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(captions[i]);
        da_reserve(&in, in.n + l + 1);
        if (i) in.v[in.n++] = '\n';
        char *c = in.v + in.n, *end = c + l;
        if (l) memcpy(c, captions[i], l);
        while ((c = memchr(c, '\n', (size_t)(end - c)))) *c++ = ' ';
        in.n += l;
    }
    size_t len;
    char *out = ptb_tokenize(in.v ? in.v : "", in.n, &len);
    char **res = xcalloc(n ? n : 1, sizeof *res);
    char *o = n ? xmalloc(len + 1) : NULL; /* the lines' bytes and NULs fit */
    const char *line = out;
    for (size_t i = 0; i < n && line; i++) {
        const char *nl = memchr(line, '\n', len - (size_t)(line - out));
        size_t ll = nl ? (size_t)(nl - line) : len - (size_t)(line - out);
        res[i] = o;
        o += filter_line(line, ll, o);
        line = nl ? nl + 1 : NULL;
    }
    free(in.v);
    free(out);
    return res;
}

void ptb_free_captions(char **tokenized, size_t n) {
    if (!tokenized) return;
    if (n) free(tokenized[0]); /* every line's block */
    free(tokenized);
}
