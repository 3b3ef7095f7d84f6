/* Option tables (sdk/weft/options.h): validation of the tables themselves,
 * and parsing one key's text into the owner's struct. Used for plugins'
 * [transport.NAME] and per-tunnel keys, and for the core's own [server]. */
#ifndef WEFT_CORE_OPTIONS_H
#define WEFT_CORE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/options.h>

#include "base/strpool.h"

/* Checks a table a plugin handed us: names, types, offsets inside a struct of
 * struct_size bytes, and that every default parses. 0, or -1 with err. */
int options_check_table(const struct weft_option *table, size_t struct_size,
                        char *err, size_t errlen);

const struct weft_option *options_find(const struct weft_option *table,
                                       const char *name);

/* Parses `text` as opt's type and stores it at dst + opt->offset; strings are
 * copied into pool. 0, or -1 with err saying what is valid. */
int options_set(const struct weft_option *opt, void *dst, const char *text,
                struct strpool *pool, char *err, size_t errlen);

/* Stores every default of the table into dst. */
int options_set_defaults(const struct weft_option *table, void *dst,
                         struct strpool *pool, char *err, size_t errlen);

/* "a, b, c" — the keys a table declares, for error messages. */
void options_names(const struct weft_option *table, char *buf, size_t len);

/* Value parsers, shared with the CLI. Each returns 0 or -1 with err. */
int parse_bool(const char *text, bool *out, char *err, size_t errlen);
int parse_int(const char *text, int64_t min, int64_t max, int64_t *out,
              char *err, size_t errlen);
int parse_duration_ms(const char *text, int64_t *out, char *err,
                      size_t errlen);

#endif
