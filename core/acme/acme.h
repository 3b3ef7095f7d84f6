/* An ACME (RFC 8555) client: obtains a certificate for one DNS name from an
 * ACME CA (Let's Encrypt, or pebble in the tests) with the HTTP-01
 * challenge, and writes the new key and the chain where the caller says.
 *
 * acme_issue blocks for up to req->timeout_s, so the server runs it on a
 * libuv worker thread (uv_queue_work). It calls no libuv, keeps no state
 * between calls and shares none with other threads except through the
 * sink, which the caller provides: several issuances may run at once.
 * The process must have called curl_global_init() once before (libcurl
 * does not promise that call is thread-safe). See docs/acme.md. */
#ifndef WEFT_CORE_ACME_H
#define WEFT_CORE_ACME_H

#include <stddef.h>

/* How HTTP-01 answers get published: while an authorization is pending,
 * GET http://NAME/.well-known/acme-challenge/TOKEN must answer
 * key_authorization. Both are called on the issuing thread; the strings
 * are valid only during the call. acme_challenges.h has a ready-made sink. */
struct acme_challenge_sink {
  /* 0, or -1 when the answer cannot be published (the issuance stops). */
  int (*publish)(void *arg, const char *token, const char *key_authorization);
  /* Called once for every successful publish, whatever the outcome. */
  void (*withdraw)(void *arg, const char *token);
  void *arg;
};

struct acme_request {
  const char *directory_url; /* e.g. https://127.0.0.1:14000/dir */
  const char *ca_file;  /* PEM to trust for the ACME server's own TLS, or
                           NULL: the system's CAs */
  const char *email;    /* account contact (mailto:), or NULL */
  const char *account_key_file; /* ECDSA P-256 PEM; made 0600 if missing,
                                   reused after */
  const char *hostname; /* the one DNS name of the certificate */
  const char *cert_file; /* the chain (PEM) is written here, atomically */
  const char *key_file;  /* the certificate's new key (PEM), 0600,
                            atomically */
  long timeout_s;        /* limit for the whole issuance, polls included */
};

/* 0 once key_file and cert_file hold the new key and chain; -1 with a plain
 * message in err naming the step that failed and, when the CA sent one,
 * its problem type and detail, e.g. "order for app.example.test:
 * authorization invalid: urn:ietf:params:acme:error:connection: ...".
 * On failure neither file is touched (the account key may have been made). */
int acme_issue(const struct acme_request *req,
               const struct acme_challenge_sink *sink, char *err,
               size_t errlen);

#endif
