/* What an ACME (RFC 8555) server sends back, read into fixed-size structs:
 * the directory, orders, authorizations, problem documents and the few
 * response headers that matter. Every field's type and length is checked
 * before use, so a hostile CA gets an error message, never a crash; these
 * functions touch no network and no global state, which lets the fuzzer
 * (tests/fuzz/fuzz_acme.c) call them directly. */
#ifndef WEFT_CORE_ACME_PARSE_H
#define WEFT_CORE_ACME_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define ACME_BODY_MAX (1024 * 1024) /* no ACME answer is near this */
#define ACME_URL_MAX 1024           /* longest URL taken from a server */
#define ACME_NONCE_MAX 256
#define ACME_TOKEN_MAX 128 /* RFC 8555 tokens are 43 characters in practice */
#define ACME_THUMBPRINT_LEN 43 /* base64url of a SHA-256 */
#define ACME_KEYAUTH_MAX (ACME_TOKEN_MAX + 1 + ACME_THUMBPRINT_LEN)
#define ACME_MAX_AUTHZ 4 /* one name per order: one authorization, some slack */
#define ACME_NAME_MAX 253

enum acme_status {
  ACME_STATUS_UNKNOWN, /* absent, or a word RFC 8555 does not define */
  ACME_STATUS_PENDING,
  ACME_STATUS_READY,
  ACME_STATUS_PROCESSING,
  ACME_STATUS_VALID,
  ACME_STATUS_INVALID,
  ACME_STATUS_DEACTIVATED,
  ACME_STATUS_EXPIRED,
  ACME_STATUS_REVOKED,
};

/* RFC 7807 problem document; detail is truncated and control characters
 * replaced, since it ends up in logs. */
struct acme_problem {
  char type[128];
  char detail[384];
};

struct acme_directory {
  char new_nonce[ACME_URL_MAX + 1];
  char new_account[ACME_URL_MAX + 1];
  char new_order[ACME_URL_MAX + 1];
};

struct acme_order {
  enum acme_status status;
  size_t n_authz;
  char authz[ACME_MAX_AUTHZ][ACME_URL_MAX + 1];
  char finalize[ACME_URL_MAX + 1];
  char certificate[ACME_URL_MAX + 1]; /* "" until the order is valid */
  bool has_error;
  struct acme_problem error;
};

/* An authorization and, of its challenges, the http-01 one. */
struct acme_authz {
  enum acme_status status;
  char name[ACME_NAME_MAX + 1]; /* identifier value (type "dns") */
  bool has_http01;
  enum acme_status http01_status;
  char http01_url[ACME_URL_MAX + 1];
  char http01_token[ACME_TOKEN_MAX + 1];
  bool has_error; /* the http-01 challenge's error, when it failed */
  struct acme_problem error;
};

/* Response headers ACME needs ("" when absent or malformed). */
struct acme_headers {
  char nonce[ACME_NONCE_MAX + 1];
  char location[ACME_URL_MAX + 1];
  char content_type[128];
};

/* Each reads a JSON body of len bytes (no NUL needed). 0, or -1 with err
 * saying which member is missing or of the wrong type. */
int acme_parse_directory(const char *body, size_t len,
                         struct acme_directory *out, char *err, size_t errlen);
int acme_parse_order(const char *body, size_t len, struct acme_order *out,
                     char *err, size_t errlen);
int acme_parse_authz(const char *body, size_t len, struct acme_authz *out,
                     char *err, size_t errlen);
/* 0 when body is a problem document with a string "type", else -1. */
int acme_parse_problem(const char *body, size_t len, struct acme_problem *out);

/* Folds one raw header line ("Name: value\r\n") into h; other names and
 * values that are too long or hold forbidden characters are ignored. A
 * status line ("HTTP/...") starts a new response and clears h. */
void acme_parse_header(const char *line, size_t len, struct acme_headers *h);

/* "type: detail", or "type" alone. */
void acme_problem_text(const struct acme_problem *p, char *out, size_t len);
const char *acme_status_name(enum acme_status s);

/* A token as RFC 8555 8.1 requires: base64url, 1..ACME_TOKEN_MAX chars;
 * it becomes part of a URL path, so nothing else may pass. */
bool acme_token_valid(const char *token);

/* A host name a CA can validate over HTTP: dot-separated labels of
 * letters, digits and inner hyphens, 1..63 each, ACME_NAME_MAX in all; no
 * wildcard, no trailing dot. */
bool acme_name_valid(const char *name);

#endif
