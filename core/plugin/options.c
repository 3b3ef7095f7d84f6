#include "plugin/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/errorf.h"
#include "base/url.h"

static size_t type_size(enum weft_option_type type)
{
  switch (type) {
  case WEFT_OPT_STRING:
  case WEFT_OPT_ENUM:
  case WEFT_OPT_URL:
    return sizeof(const char *);
  case WEFT_OPT_INT:
  case WEFT_OPT_DURATION:
    return sizeof(int64_t);
  case WEFT_OPT_BOOL:
    return sizeof(bool);
  }
  return 0;
}

static size_t type_align(enum weft_option_type type)
{
  switch (type) {
  case WEFT_OPT_STRING:
  case WEFT_OPT_ENUM:
  case WEFT_OPT_URL:
    return _Alignof(const char *);
  case WEFT_OPT_INT:
  case WEFT_OPT_DURATION:
    return _Alignof(int64_t);
  case WEFT_OPT_BOOL:
    return _Alignof(bool);
  }
  return 1;
}

static bool valid_key_name(const char *name)
{
  size_t n = 0;
  for (const char *p = name; *p; p++, n++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return false;
  return n > 0 && n <= 64;
}

int parse_bool(const char *text, bool *out, char *err, size_t errlen)
{
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(text, yes[i]) == 0)
      return *out = true, 0;
    if (strcasecmp(text, no[i]) == 0)
      return *out = false, 0;
  }
  return errorf(err, errlen, "'%.64s' is not a boolean: use true or false",
              text);
}

int parse_int(const char *text, int64_t min, int64_t max, int64_t *out,
              char *err, size_t errlen)
{
  char *end;
  errno = 0;
  if (!*text)
    return errorf(err, errlen, "empty value where a number was expected");
  long long v = strtoll(text, &end, 10);
  if (*end || end == text)
    return errorf(err, errlen, "'%.64s' is not a whole number", text);
  if (errno == ERANGE || (max > min && (v < min || v > max))) {
    if (max > min)
      return errorf(err, errlen, "%.64s is out of range %lld-%lld", text,
                  (long long)min, (long long)max);
    return errorf(err, errlen, "%.64s is out of range", text);
  }
  *out = v;
  return 0;
}

int parse_duration_ms(const char *text, int64_t *out, char *err,
                      size_t errlen)
{
  static const struct {
    const char *suffix;
    int64_t ms;
  } units[] = {{"ms", 1},        {"s", 1000},       {"m", 60000},
               {"h", 3600000},   {"d", 86400000},   {"", 1000}};
  const char *p = text;
  int64_t value = 0;
  if (*p < '0' || *p > '9')
    return errorf(err, errlen,
                "'%.64s' is not a duration: use a number and a unit, as in "
                "500ms, 30s, 15m, 2h or 1d",
                text);
  while (*p >= '0' && *p <= '9') {
    if (value > (INT64_MAX - 9) / 10)
      return errorf(err, errlen, "duration '%.64s' is too large", text);
    value = value * 10 + (*p++ - '0');
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(p, units[i].suffix) == 0) {
      if (value > INT64_MAX / units[i].ms)
        return errorf(err, errlen, "duration '%.64s' is too large", text);
      *out = value * units[i].ms;
      return 0;
    }
  }
  return errorf(err, errlen,
              "'%.64s' has an unknown unit: use ms, s, m, h or d", text);
}

static bool choice_listed(const char *choices, const char *value)
{
  size_t vlen = strlen(value);
  for (const char *p = choices; *p;) {
    size_t n = strcspn(p, "|");
    if (n == vlen && strncmp(p, value, n) == 0)
      return true;
    p += n;
    if (*p == '|')
      p++;
  }
  return false;
}

int options_set(const struct weft_option *opt, void *dst, const char *text,
                struct strpool *pool, char *err, size_t errlen)
{
  char *slot = (char *)dst + opt->offset;
  char why[URL_MAX_TEXT + 128];
  switch (opt->type) {
  case WEFT_OPT_STRING:
  case WEFT_OPT_ENUM:
  case WEFT_OPT_URL: {
    for (const char *p = text; *p; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7f)
        return errorf(err, errlen, "the value contains a control character");
    if (opt->type == WEFT_OPT_ENUM && !choice_listed(opt->choices, text))
      return errorf(err, errlen, "'%.64s' is not one of: %s", text,
                  opt->choices);
    if (opt->type == WEFT_OPT_URL) {
      struct url url;
      if (url_parse(text, &url, why, sizeof why) != 0)
        return errorf(err, errlen, "%s", why);
    }
    const char *copy = strpool_dup(pool, text);
    if (!copy)
      return errorf(err, errlen, "out of memory");
    memcpy(slot, &copy, sizeof copy);
    return 0;
  }
  case WEFT_OPT_INT: {
    int64_t v;
    if (parse_int(text, opt->min, opt->max, &v, err, errlen) != 0)
      return -1;
    memcpy(slot, &v, sizeof v);
    return 0;
  }
  case WEFT_OPT_DURATION: {
    int64_t v;
    if (parse_duration_ms(text, &v, err, errlen) != 0)
      return -1;
    if (opt->max > opt->min && (v < opt->min || v > opt->max))
      return errorf(err, errlen,
                  "%.64s is out of range (%lld ms to %lld ms)", text,
                  (long long)opt->min, (long long)opt->max);
    memcpy(slot, &v, sizeof v);
    return 0;
  }
  case WEFT_OPT_BOOL: {
    bool v;
    if (parse_bool(text, &v, err, errlen) != 0)
      return -1;
    memcpy(slot, &v, sizeof v);
    return 0;
  }
  }
  return errorf(err, errlen, "option has an unknown type %d", (int)opt->type);
}

int options_check_table(const struct weft_option *table, size_t struct_size,
                        char *err, size_t errlen)
{
  if (!table)
    return 0;
  if (struct_size > (1u << 20))
    return errorf(err, errlen, "config struct size %zu is implausibly large",
                struct_size);
  void *scratch = calloc(1, struct_size ? struct_size : 1);
  struct strpool pool = {0};
  int rc = 0;
  char why[256];
  for (size_t i = 0; table[i].name; i++) {
    const struct weft_option *opt = &table[i];
    if (i >= 256) {
      rc = errorf(err, errlen, "option table has no end marker (or > 256 keys)");
      break;
    }
    if (!valid_key_name(opt->name)) {
      rc = errorf(err, errlen, "option name '%.64s' is not [a-z0-9_]{1,64}",
                opt->name);
      break;
    }
    size_t size = type_size(opt->type);
    if (size == 0) {
      rc = errorf(err, errlen, "option '%s' has unknown type %d", opt->name,
                (int)opt->type);
      break;
    }
    if (opt->offset > struct_size || struct_size - opt->offset < size ||
        opt->offset % type_align(opt->type) != 0) {
      rc = errorf(err, errlen,
                "option '%s' lies outside its %zu-byte config struct "
                "(offset %zu)",
                opt->name, struct_size, opt->offset);
      break;
    }
    if (opt->type == WEFT_OPT_ENUM && (!opt->choices || !*opt->choices)) {
      rc = errorf(err, errlen, "enum option '%s' lists no choices", opt->name);
      break;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(table[j].name, opt->name) == 0) {
        rc = errorf(err, errlen, "option '%s' is declared twice", opt->name);
        goto out;
      }
    if (opt->default_value && scratch &&
        options_set(opt, scratch, opt->default_value, &pool, why,
                    sizeof why) != 0) {
      rc = errorf(err, errlen, "default of option '%s' is invalid: %s",
                opt->name, why);
      break;
    }
  }
out:
  strpool_free(&pool);
  free(scratch);
  return rc;
}

const struct weft_option *options_find(const struct weft_option *table,
                                       const char *name)
{
  for (size_t i = 0; table && table[i].name; i++)
    if (strcmp(table[i].name, name) == 0)
      return &table[i];
  return NULL;
}

int options_set_defaults(const struct weft_option *table, void *dst,
                         struct strpool *pool, char *err, size_t errlen)
{
  for (size_t i = 0; table && table[i].name; i++) {
    if (!table[i].default_value)
      continue;
    char why[256];
    if (options_set(&table[i], dst, table[i].default_value, pool, why,
                    sizeof why) != 0)
      return errorf(err, errlen, "default of '%s': %s", table[i].name, why);
  }
  return 0;
}

void options_names(const struct weft_option *table, char *buf, size_t len)
{
  size_t used = 0;
  if (len)
    buf[0] = '\0';
  for (size_t i = 0; table && table[i].name && used < len; i++) {
    int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                     table[i].name);
    if (n < 0)
      break;
    used += (size_t)n;
  }
  if ((!table || !table[0].name) && len)
    snprintf(buf, len, "(none)");
}
