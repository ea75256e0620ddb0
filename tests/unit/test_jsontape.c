/* test_jsontape.c - the tape JSON parser against jansson, its reference:
 * the same documents accepted (hand-picked edge cases and mutated
 * documents), the same values read back, and errors at the right line and
 * column. */
#include "test.h"

#include <jansson.h>

#include "jsontape.h"

/* Does the tape value equal jansson's? (objects: every key jansson keeps
 * maps to an equal value, and the tape has no other key.) */
static int same_value(const jt_t *t, const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (t->type != JT_OBJECT) return 0;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v) {
            const jt_t *tv = jt_get(t, key);
            if (!tv || !same_value(tv, v)) return 0;
        }
        const jt_t *k = jt_first(t);
        for (uint32_t i = 0; i < t->len; i++, k = jt_next(k + 1))
            if (!json_object_get(j, k->u.s)) return 0;
        return 1;
    }
    case JSON_ARRAY: {
        if (t->type != JT_ARRAY || t->len != json_array_size(j)) return 0;
        const jt_t *e = jt_first(t);
        for (size_t i = 0; i < t->len; i++, e = jt_next(e))
            if (!same_value(e, json_array_get(j, i))) return 0;
        return 1;
    }
    case JSON_STRING:
        return t->type == JT_STRING && t->len == json_string_length(j) && !memcmp(t->u.s, json_string_value(j), t->len) &&
               !t->u.s[t->len];
    case JSON_INTEGER: return t->type == JT_INTEGER && t->u.i == json_integer_value(j);
    case JSON_REAL: return t->type == JT_REAL && !memcmp(&t->u.d, &(double){json_real_value(j)}, sizeof(double));
    case JSON_TRUE: return t->type == JT_TRUE;
    case JSON_FALSE: return t->type == JT_FALSE;
    default: return t->type == JT_NULL;
    }
}

/* Parses with both (flags: JT_ALLOW_NUL or 0); 1 when they agree. */
static int agrees(const char *buf, size_t len, unsigned flags) {
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY | (flags & JT_ALLOW_NUL ? JSON_ALLOW_NUL : 0), &je);
    jt_doc_t d = {0};
    jt_error_t e;
    long root = jt_parse(&d, buf, len, flags, &e);
    int ok = (j != NULL) == (root >= 0) && (!j || same_value(&d.v.v[root], j));
    if (root >= 0) ok &= d.v.v[root].size == d.v.n; /* the root spans the whole tape */
    json_decref(j);
    jt_free(&d);
    return ok;
}

static const char *const CASES[] = {
    "{}", "[]", "  [ ]  ", "0", "-0", "1", "-1", "12", "01", "-01", "1.", ".5", "1.5", "-1.5e3", "1e5", "1E+5",
    "1e-5", "1e", "1e+", "-", "--1", "+1", "1.5e999", "-1.5e999", "1e-999", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "99999999999999999999",
    "0.1", "123456789012345678901234567890.5", "true", "false", "null", "tru", "truex", "nul", "True",
    "\"\"", "\"abc\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\x\"", "\"\\u00e9\"", "\"\\u00E9\\u4e2d\"",
    "\"\\uD83D\\uDE00\"", "\"\\ud83d\"", "\"\\ud83dx\"", "\"\\ud83d\\n\"", "\"\\ud83d\\u0041\"", "\"\\ude00\"",
    "\"\\u12\"", "\"\\u12G4\"", "\"\\u0000\"", "\"a\\u0000b\"", "{\"a\\u0000\": 1}", "\"\xc3\xa9\"", "\"\xc3\"",
    "\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xe0\x80\x80\"", "\"\xed\xa0\x80\"", "\"\xef\xbf\xbf\"", "\"\xf0\x9f\x98\x80\"",
    "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\x80\"", "\"\xff\"", "\"a\tb\"", "\"a\nb\"", "\"abc",
    "\"abc\\", "\xef\xbb\xbf[]", "[1,]", "[,1]", "[1 2]", "[1,,2]", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}",
    "{1:2}", "{\"a\":1 \"b\":2}", "{\"a\":1,\"a\":2}", "{\"a\":[1,{\"b\":null}],\"c\":{}}", "[[[[]]]]", "[1]]",
    "{}}", "{} {}", "[] x", "", "   ", "\n", "[\n1,\n2\n]\n", "\t{\"k\":\r\n\"v\"}", "[1\x00]", "\"a\x00\"", "]",
    "}", ",", ":", "{\"a\":1]", "[1}", "[\"a\":1]", "{\"\":\"\"}", "[true,false,null,-0.0,1E2,\"\"]",
    "{\"images\": [{\"id\": 1, \"file_name\": \"x.jpg\"}], \"annotations\": [{\"id\": 2, \"image_id\": 1, "
    "\"caption\": \"A dog.\"}]}",
};

TEST(jsontape_accepts_what_jansson_accepts) {
    for (size_t i = 0; i < ARRAY_LEN(CASES); i++)
        for (unsigned flags = 0; flags <= JT_ALLOW_NUL; flags++)
            CHECK_MSG(agrees(CASES[i], strlen(CASES[i]), flags), "case %zu flags %u: %s", i, flags, CASES[i]);
    CHECK(agrees("[\0 1]", 5, 0));
    CHECK(agrees("\"a\0\"", 4, JT_ALLOW_NUL));
    /* jansson skips a raw NUL after a number or literal; the tape refuses it */
    jt_doc_t d = {0};
    jt_error_t e;
    CHECK(jt_parse(&d, "[1\0]", 4, 0, &e) < 0 && jt_parse(&d, "[true\0]", 7, 0, &e) < 0);
    jt_free(&d);
}

/* Nesting depth 2048 is the limit, for containers and scalars alike. */
TEST(jsontape_depth_limit) {
    for (int depth = 2046; depth <= 2049; depth++)
        for (int scalar = 0; scalar <= 1; scalar++) {
            char *s = malloc(2 * (size_t)depth + 2);
            size_t n = 0;
            for (int i = 0; i < depth; i++) s[n++] = '[';
            if (scalar) s[n++] = '1';
            for (int i = 0; i < depth; i++) s[n++] = ']';
            CHECK_MSG(agrees(s, n, 0), "depth %d scalar %d", depth, scalar);
            free(s);
        }
}

/* Mutations (byte changes, insertions, deletions, truncations) of valid
 * documents: both parsers must agree on every one. */
TEST(jsontape_agrees_on_mutated_documents) {
    static const char *const SEEDS[] = {
        "{\"images\": [{\"id\": 391895, \"file_name\": \"COCO_val2014_000000391895.jpg\", \"width\": 640}],\n"
        " \"annotations\": [{\"id\": 1, \"image_id\": 391895, \"caption\": \"A man \\\"rides\\\" a bike.\"},\n"
        "  {\"id\": 2, \"image_id\": 391895, \"caption\": \"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00\"}]}",
        "[{\"image_id\": 1, \"caption\": \"a\"}, {\"image_id\": -2, \"caption\": \"b\\n\", \"x\": [1.5e3, true, null]}]",
    };
    const char ALPHABET[] = "{}[]\":,\\u0123456789abcdefEe.+-tnl \n\t\xc3\xa9\xed\xa0\x80\xff";
    uint64_t s = 12345;
    int disagree = 0, rejected = 0;
    for (int iter = 0; iter < 20000; iter++) {
        const char *seed = SEEDS[iter % ARRAY_LEN(SEEDS)];
        size_t n = strlen(seed);
        char buf[512];
        memcpy(buf, seed, n);
        int edits = 1 + (int)(iter % 3);
        for (int k = 0; k < edits; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % (n + 1), what = (size_t)(s >> 20) % 4;
            char c = ALPHABET[(s >> 8) % (sizeof ALPHABET - 1)];
            if (what == 0 && at < n) buf[at] = c;
            else if (what == 1 && n < sizeof buf - 1) memmove(buf + at + 1, buf + at, n - at), buf[at] = c, n++;
            else if (what == 2 && at < n) memmove(buf + at, buf + at + 1, n - at - 1), n--;
            else if (what == 3) n = at;
        }
        json_error_t je;
        json_t *j = json_loadb(buf, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        rejected += !j;
        json_decref(j);
        if (!agrees(buf, n, iter & 1)) disagree++;
    }
    CHECK_EQ_INT(disagree, 0);
    CHECK(rejected > 5000 && rejected < 19000); /* the mutations reach both outcomes */
}

static void check_error(const char *doc, long line, long col, const char *text) {
    jt_doc_t d = {0};
    jt_error_t e;
    CHECK_MSG(jt_parse(&d, doc, strlen(doc), 0, &e) < 0, "accepted: %s", doc);
    CHECK_MSG(e.line == line && e.col == col, "%s: error at %ld:%ld, expected %ld:%ld", doc, e.line, e.col, line, col);
    CHECK_STR(e.text, text);
    jt_free(&d);
}

TEST(jsontape_error_positions) {
    check_error("{\n  \"a\": tru\n}", 2, 8, "invalid token");
    check_error("[1,\n 2,\n 3", 3, 3, "']' expected");
    check_error("{\"caf\xc3\xa9\": \"x\xff\"}", 1, 12, "unable to decode byte 0xff");
    check_error("[\"a\", \"b\\q\"]", 1, 9, "invalid escape");
    check_error("{\"a\": 1}\n\n x", 3, 2, "end of file expected");
    check_error("[9223372036854775808]", 1, 2, "too big integer");
    check_error("\"\\u0000\"", 1, 2, "\\u0000 is not allowed without JSON_ALLOW_NUL");
}

/* Duplicate keys: the last one wins, as in jansson; lookups by exact key. */
TEST(jsontape_lookup) {
    jt_doc_t d = {0};
    const char *doc = "{\"a\": 1, \"ab\": [2, {\"x\": 3}], \"a\": \"last\", \"n\": null}";
    const jt_t *root = jt_load_buf(&d, doc, strlen(doc), "doc");
    CHECK_EQ_INT(root->len, 4);
    CHECK_STR(jt_get(root, "a")->u.s, "last");
    CHECK_EQ_INT(jt_get(root, "ab")->len, 2);
    CHECK_EQ_INT(jt_get(jt_next(jt_first(jt_get(root, "ab"))), "x")->u.i, 3);
    CHECK(jt_get(root, "b") == NULL);
    CHECK(jt_get(jt_get(root, "n"), "a") == NULL);
    CHECK_EQ_INT(jt_opt_int(root, "missing", 7, "doc"), 7);
    CHECK(jt_opt_str(root, "missing", "doc") == NULL);
    CHECK_STR(jt_need_str(root, "a", "doc %d", 1), "last");
    CHECK_STR(jt_type_name(jt_get(root, "ab")->type), "an array");
    jt_free(&d);
}
