/* jsonio.h - JSON through jansson with errors that name file, line and column,
 * and typed field access that names the offending record and field. */
#ifndef BLIP_JSONIO_H
#define BLIP_JSONIO_H

#include <jansson.h>
#include <stdint.h>

/* Parse a whole file ("-" = stdin); dies with "path:LINE:COL: reason". */
json_t *json_load_path(const char *path);
/* Parse a buffer; `what` names it in errors. */
json_t *json_load_buf(const char *buf, size_t len, const char *what);

/* Field access on an object; `where` names the object in errors
 * ("captions_val2014.json: annotations[12]"). Missing or mistyped fields die. */
json_t *json_need(json_t *obj, const char *key, json_type type, const char *where);
int64_t json_need_int(json_t *obj, const char *key, const char *where);
const char *json_need_str(json_t *obj, const char *key, const char *where);
/* Optional: returns dflt when absent, dies when present with another type. */
int64_t json_opt_int(json_t *obj, const char *key, int64_t dflt, const char *where);
const char *json_opt_str(json_t *obj, const char *key, const char *where);

/* Serialize compactly (or indented when indent > 0) to a new string. */
char *json_to_string(const json_t *v, int indent);
/* Atomically write a JSON value to a file, indented, with a final newline. */
void json_write_atomic(const char *path, const json_t *v);

#endif
