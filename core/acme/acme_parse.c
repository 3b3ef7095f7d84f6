#include "acme/acme_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/errorf.h"

static bool is_b64url_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool acme_token_valid(const char *token)
{
  size_t n = 0;
  for (; token[n]; n++)
    if (n >= ACME_TOKEN_MAX || !is_b64url_char(token[n]))
      return false;
  return n > 0;
}

bool acme_name_valid(const char *name)
{
  size_t len = strlen(name), label = 0;
  if (len == 0 || len > ACME_NAME_MAX)
    return false;
  for (size_t i = 0; i <= len; i++) {
    char c = name[i];
    if (c == '.' || c == '\0') {
      if (label == 0 || label > 63 || name[i - 1] == '-')
        return false;
      label = 0;
      continue;
    }
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum && (c != '-' || label == 0))
      return false;
    label++;
  }
  return true;
}

const char *acme_status_name(enum acme_status s)
{
  static const char *const names[] = {
      [ACME_STATUS_UNKNOWN] = "unknown",   [ACME_STATUS_PENDING] = "pending",
      [ACME_STATUS_READY] = "ready",       [ACME_STATUS_PROCESSING] = "processing",
      [ACME_STATUS_VALID] = "valid",       [ACME_STATUS_INVALID] = "invalid",
      [ACME_STATUS_DEACTIVATED] = "deactivated",
      [ACME_STATUS_EXPIRED] = "expired",   [ACME_STATUS_REVOKED] = "revoked",
  };
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

static enum acme_status status_of(json_t *obj)
{
  const char *word = json_string_value(json_object_get(obj, "status"));
  for (int s = ACME_STATUS_PENDING; word && s <= ACME_STATUS_REVOKED; s++)
    if (strcmp(word, acme_status_name(s)) == 0)
      return s;
  return ACME_STATUS_UNKNOWN;
}

/* Server text shown to people: truncated, control characters replaced. */
static void copy_text(char *out, size_t size, const char *text)
{
  size_t n = 0;
  for (; text && text[n] && n + 1 < size; n++) {
    unsigned char c = (unsigned char)text[n];
    out[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  out[n] = '\0';
}

static json_t *load_object(const char *body, size_t len, const char *what,
                           char *err, size_t errlen)
{
  json_error_t jerr;
  json_t *root =
      len <= ACME_BODY_MAX ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)
                           : NULL;
  if (!json_is_object(root)) {
    json_decref(root);
    errorf(err, errlen, "the %s is not a JSON object", what);
    return NULL;
  }
  return root;
}

/* An https URL of printable ASCII without spaces, at most ACME_URL_MAX. */
static int url_value(json_t *v, const char *what, char *out, char *err,
                     size_t errlen)
{
  const char *s = json_string_value(v);
  if (!s)
    return errorf(err, errlen, "\"%s\" is %s", what,
                  v ? "not a string" : "missing");
  size_t n = strlen(s);
  if (n > ACME_URL_MAX || strncmp(s, "https://", 8) != 0)
    return errorf(err, errlen, "\"%s\" is not an https URL of at most %d bytes",
                  what, ACME_URL_MAX);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return errorf(err, errlen, "\"%s\" holds a character a URL cannot",
                    what);
  memcpy(out, s, n + 1);
  return 0;
}

static int get_url(json_t *obj, const char *key, char *out, bool required,
                   char *err, size_t errlen)
{
  json_t *v = json_object_get(obj, key);
  out[0] = '\0';
  return !v && !required ? 0 : url_value(v, key, out, err, errlen);
}

static void read_problem(json_t *obj, struct acme_problem *out)
{
  copy_text(out->type, sizeof out->type,
            json_string_value(json_object_get(obj, "type")));
  copy_text(out->detail, sizeof out->detail,
            json_string_value(json_object_get(obj, "detail")));
}

int acme_parse_problem(const char *body, size_t len, struct acme_problem *out)
{
  memset(out, 0, sizeof *out);
  json_t *root = load_object(body, len, "problem", NULL, 0);
  int rc = root && json_is_string(json_object_get(root, "type")) ? 0 : -1;
  if (rc == 0)
    read_problem(root, out);
  json_decref(root);
  return rc;
}

void acme_problem_text(const struct acme_problem *p, char *out, size_t len)
{
  snprintf(out, len, "%s%s%s", p->type[0] ? p->type : "(no type)",
           p->detail[0] ? ": " : "", p->detail);
}

int acme_parse_directory(const char *body, size_t len,
                         struct acme_directory *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  json_t *root = load_object(body, len, "directory", err, errlen);
  if (!root)
    return -1;
  int rc = get_url(root, "newNonce", out->new_nonce, true, err, errlen) == 0 &&
                   get_url(root, "newAccount", out->new_account, true, err,
                           errlen) == 0 &&
                   get_url(root, "newOrder", out->new_order, true, err,
                           errlen) == 0
               ? 0
               : -1;
  json_decref(root);
  return rc;
}

static int read_authz_urls(json_t *root, struct acme_order *out, char *err,
                           size_t errlen)
{
  json_t *list = json_object_get(root, "authorizations");
  if (!json_is_array(list) || json_array_size(list) == 0)
    return errorf(err, errlen, "\"authorizations\" is not a non-empty array");
  if (json_array_size(list) > ACME_MAX_AUTHZ)
    return errorf(err, errlen, "%zu authorizations for one name (at most %d)",
                  json_array_size(list), ACME_MAX_AUTHZ);
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v)
  {
    if (url_value(v, "authorizations", out->authz[i], err, errlen) != 0)
      return -1;
  }
  out->n_authz = json_array_size(list);
  return 0;
}

int acme_parse_order(const char *body, size_t len, struct acme_order *out,
                     char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  json_t *root = load_object(body, len, "order", err, errlen);
  if (!root)
    return -1;
  out->status = status_of(root);
  json_t *problem = json_object_get(root, "error");
  if (json_is_object(problem)) {
    out->has_error = true;
    read_problem(problem, &out->error);
  }
  int rc = out->status != ACME_STATUS_UNKNOWN ? 0
                                              : errorf(err, errlen,
                                                       "the order has no "
                                                       "known \"status\"");
  if (rc == 0)
    rc = read_authz_urls(root, out, err, errlen);
  if (rc == 0)
    rc = get_url(root, "finalize", out->finalize, true, err, errlen);
  if (rc == 0)
    rc = get_url(root, "certificate", out->certificate, false, err, errlen);
  json_decref(root);
  return rc;
}

static int read_identifier(json_t *root, struct acme_authz *out, char *err,
                           size_t errlen)
{
  json_t *id = json_object_get(root, "identifier");
  const char *type = json_string_value(json_object_get(id, "type"));
  const char *value = json_string_value(json_object_get(id, "value"));
  if (!type || strcmp(type, "dns") != 0 || !value)
    return errorf(err, errlen, "the identifier is not a dns name");
  if (strlen(value) > ACME_NAME_MAX)
    return errorf(err, errlen, "the identifier is longer than %d bytes",
                  ACME_NAME_MAX);
  copy_text(out->name, sizeof out->name, value);
  return 0;
}

/* The first http-01 challenge; none at all is not an error here (the
 * authorization may already be valid). */
static int read_http01(json_t *root, struct acme_authz *out, char *err,
                       size_t errlen)
{
  json_t *list = json_object_get(root, "challenges");
  if (!json_is_array(list))
    return errorf(err, errlen, "\"challenges\" is not an array");
  size_t i;
  json_t *ch;
  json_array_foreach(list, i, ch)
  {
    const char *type = json_string_value(json_object_get(ch, "type"));
    if (!json_is_object(ch) || !type || strcmp(type, "http-01") != 0)
      continue;
    const char *token = json_string_value(json_object_get(ch, "token"));
    if (!token || !acme_token_valid(token))
      return errorf(err, errlen, "the http-01 token is not base64url of "
                                 "1..%d characters",
                    ACME_TOKEN_MAX);
    if (get_url(ch, "url", out->http01_url, true, err, errlen) != 0)
      return -1;
    memcpy(out->http01_token, token, strlen(token) + 1);
    out->http01_status = status_of(ch);
    json_t *problem = json_object_get(ch, "error");
    if (json_is_object(problem)) {
      out->has_error = true;
      read_problem(problem, &out->error);
    }
    out->has_http01 = true;
    return 0;
  }
  return 0;
}

int acme_parse_authz(const char *body, size_t len, struct acme_authz *out,
                     char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  json_t *root = load_object(body, len, "authorization", err, errlen);
  if (!root)
    return -1;
  out->status = status_of(root);
  int rc = out->status != ACME_STATUS_UNKNOWN
               ? 0
               : errorf(err, errlen, "the authorization has no known "
                                     "\"status\"");
  if (rc == 0)
    rc = read_identifier(root, out, err, errlen);
  if (rc == 0)
    rc = read_http01(root, out, err, errlen);
  json_decref(root);
  return rc;
}

/* Copies a header value if it fits and every byte passes `ok`. */
static void take_value(const char *v, size_t n, char *out, size_t size,
                       bool (*ok)(char))
{
  if (n == 0 || n >= size)
    return;
  for (size_t i = 0; i < n; i++)
    if (!ok(v[i]))
      return;
  memcpy(out, v, n);
  out[n] = '\0';
}

static bool url_char(char c)
{
  return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f;
}

static bool text_char(char c)
{
  return (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f;
}

void acme_parse_header(const char *line, size_t len, struct acme_headers *h)
{
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    memset(h, 0, sizeof *h);
    return;
  }
  const char *colon = memchr(line, ':', len);
  if (!colon)
    return;
  size_t name_len = (size_t)(colon - line);
  const char *v = colon + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                     end[-1] == '\t'))
    end--;
  size_t n = (size_t)(end - v);
  if (name_len == 12 && strncasecmp(line, "Replay-Nonce", 12) == 0)
    take_value(v, n, h->nonce, sizeof h->nonce, is_b64url_char);
  else if (name_len == 8 && strncasecmp(line, "Location", 8) == 0 &&
           n > 8 && strncmp(v, "https://", 8) == 0)
    take_value(v, n, h->location, sizeof h->location, url_char);
  else if (name_len == 12 && strncasecmp(line, "Content-Type", 12) == 0)
    take_value(v, n, h->content_type, sizeof h->content_type, text_char);
}
