/* jsonio.c - jansson wrappers with precise error messages (see jsonio.h). */
#include "jsonio.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"

json_t *json_load_buf(const char *buf, size_t len, const char *what) {
    json_error_t e;
    json_t *v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v) die("%s:%d:%d: malformed JSON: %s", what, e.line, e.column, e.text);
    return v;
}

json_t *json_load_path(const char *path) {
    size_t len;
    char *buf;
    if (strcmp(path, "-") == 0) {
        buf = read_file("/dev/stdin", &len);
        path = "<stdin>";
    } else {
        buf = read_file(path, &len);
    }
    json_t *v = json_load_buf(buf, len, path);
    free(buf);
    return v;
}

static const char *type_name(json_type t) {
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

json_t *json_need(json_t *obj, const char *key, json_type type, const char *where) {
    if (!json_is_object(obj)) die("%s: expected an object, found %s", where, type_name(json_typeof(obj)));
    json_t *v = json_object_get(obj, key);
    if (!v) die("%s: missing field \"%s\"", where, key);
    if (json_typeof(v) != type)
        die("%s: field \"%s\" should be %s, found %s", where, key, type_name(type), type_name(json_typeof(v)));
    return v;
}

int64_t json_need_int(json_t *obj, const char *key, const char *where) {
    return json_integer_value(json_need(obj, key, JSON_INTEGER, where));
}

const char *json_need_str(json_t *obj, const char *key, const char *where) {
    return json_string_value(json_need(obj, key, JSON_STRING, where));
}

int64_t json_opt_int(json_t *obj, const char *key, int64_t dflt, const char *where) {
    return json_object_get(obj, key) ? json_need_int(obj, key, where) : dflt;
}

const char *json_opt_str(json_t *obj, const char *key, const char *where) {
    return json_object_get(obj, key) ? json_need_str(obj, key, where) : NULL;
}

char *json_to_string(const json_t *v, int indent) {
    size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | (indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT);
    char *s = json_dumps(v, flags);
    if (!s) die("cannot serialize JSON");
    return s;
}

void json_write_atomic(const char *path, const json_t *v) {
    char *s = json_to_string(v, 2);
    size_t n = strlen(s);
    char *line = xmalloc(n + 2);
    memcpy(line, s, n);
    line[n] = '\n';
    write_file_atomic(path, line, n + 1);
    free(line);
    free(s);
}
