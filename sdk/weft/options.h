/* Weft SDK: declarative option tables.
 *
 * A plugin never parses weft.conf. It declares its keys in a table; the core
 * parses the file, rejects unknown keys and bad values (naming file, line,
 * key and the keys the plugin declares), applies defaults, and fills a struct
 * of the plugin's own through the offsets in the table. The descriptions are
 * what `weft plugins --verbose` and the docs show.
 *
 *   struct my_conf { const char *mode; int64_t port; bool verbose; };
 *   static const struct weft_option my_options[] = {
 *     { "mode", WEFT_OPT_ENUM, offsetof(struct my_conf, mode), "auto",
 *       "which backend to use", .choices = "auto|kernel|uapi" },
 *     { "port", WEFT_OPT_INT, offsetof(struct my_conf, port), "30000",
 *       "UDP listen port", .min = 1, .max = 65535 },
 *     WEFT_OPTIONS_END
 *   };
 *
 * Ownership: the struct the core fills, and every string in it, belong to
 * the core and stay valid until the plugin's destroy() (for [transport.NAME]
 * options) or the tunnel's close op (for per-tunnel options) has returned.
 */
#ifndef WEFT_OPTIONS_H
#define WEFT_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum weft_option_type {
  WEFT_OPT_STRING = 1, /* const char *, any text without control characters */
  WEFT_OPT_INT,        /* int64_t, decimal, within [min, max] when max > min */
  WEFT_OPT_BOOL,       /* bool: true/false, yes/no, on/off, 1/0 */
  WEFT_OPT_DURATION,   /* int64_t milliseconds: "500ms", "30s", "15m", "2h", "1d" */
  WEFT_OPT_ENUM,       /* const char *, one of `choices` ("a|b|c") */
  WEFT_OPT_URL,        /* const char *, a valid tcp://, udp://, http:// or https:// URL */
};

enum weft_option_flags {
  WEFT_OPT_REQUIRED = 1u << 0, /* the key must be present (default ignored) */
};

/* One entry of an option table. A table is an array, which the core steps
 * through by the size of this struct as the core was built, so a plugin
 * with a bigger one would be misread: it never grows (in ABI 1). An option
 * property a later minor adds comes in a table of a new struct, through a
 * new descriptor field. */
struct weft_option {
  const char *name;            /* the key in weft.conf: [a-z0-9_]+ */
  enum weft_option_type type;
  size_t offset;               /* where the value goes in the plugin's struct */
  const char *default_value;   /* text form, parsed like a value; NULL: zero/NULL */
  const char *description;     /* one line, shown in help and docs */
  const char *choices;         /* WEFT_OPT_ENUM only */
  int64_t min, max;            /* WEFT_OPT_INT / WEFT_OPT_DURATION bounds, if max > min */
  unsigned flags;              /* enum weft_option_flags */
};

/* Ends every option table. Every field is spelled out (so -Wextra sees
 * no missing initializer) and the type is cast (so it is valid C++). */
#define WEFT_OPTIONS_END                                                     \
  { NULL, (enum weft_option_type)0, 0, NULL, NULL, NULL, 0, 0, 0 }

#ifdef __cplusplus
}
#endif

#endif /* WEFT_OPTIONS_H */
