/* The ACME client's HTTPS transport: one libcurl easy handle per issuance
 * (its connection is reused from request to request), https only, bodies
 * bounded, and one deadline over everything, including the waits between
 * polls. Keeps the freshest Replay-Nonce of any answer. Blocking; no
 * global state beyond what libcurl needs from curl_global_init, which the
 * process calls once before. */
#ifndef WEFT_CORE_ACME_HTTP_H
#define WEFT_CORE_ACME_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme/acme_parse.h"

struct acme_http {
  void *curl;            /* CURL * */
  const char *ca_file;   /* borrowed; NULL: the system's CAs */
  uint64_t deadline_ms;  /* CLOCK_MONOTONIC */
  long limit_s;          /* for messages */
  char nonce[ACME_NONCE_MAX + 1]; /* unused nonce from the last answer, or "" */
};

struct acme_reply {
  long status;
  char *body; /* NUL-terminated, malloc'd; NULL when empty */
  size_t len;
  struct acme_headers h;
  long retry_after_s; /* 0 when the server did not ask */
};

/* 0, or -1 with err. */
int acme_http_open(struct acme_http *h, const char *ca_file, long timeout_s,
                   char *err, size_t errlen);
void acme_http_close(struct acme_http *h);

/* method is "GET", "HEAD" or "POST"; jose is the POST body (sent as
 * application/jose+json); pem asks for application/pem-certificate-chain.
 * 0 when an answer arrived (any status; *r filled, free it with
 * acme_reply_free), or -1 with err (no connection, time is up, answer too
 * large). */
int acme_http_send(struct acme_http *h, const char *method, const char *url,
                   const char *jose, bool pem, struct acme_reply *r,
                   char *err, size_t errlen);
void acme_reply_free(struct acme_reply *r);

/* Sleeps ms; -1 (at once, with err) if that would pass the deadline. */
int acme_http_wait(struct acme_http *h, uint64_t ms, char *err,
                   size_t errlen);

#endif
