/* The RFC 8555 issuance flow: directory, nonce, account, order, one
 * HTTP-01 authorization per name, finalize with a CSR, download. Parsing
 * is in acme_parse.c, cryptography in acme_jws.c, HTTPS in acme_http.c,
 * files in acme_files.c; this file only sequences them and words errors. */
#include "acme/acme.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_files.h"
#include "acme/acme_http.h"
#include "acme/acme_jws.h"
#include "acme/acme_parse.h"
#include "base/errorf.h"

#define BAD_NONCE "urn:ietf:params:acme:error:badNonce"
#define BAD_NONCE_RETRIES 5 /* RFC 8555 6.5: retry with the fresh nonce */
#define POLL_FIRST_MS 250   /* then doubling up to POLL_MAX_MS */
#define POLL_MAX_MS 2000

struct acme_run {
  const struct acme_request *req;
  const struct acme_challenge_sink *sink;
  struct acme_http http;
  struct acme_directory dir;
  EVP_PKEY *account;
  char thumbprint[ACME_THUMBPRINT_LEN + 1];
  char kid[ACME_URL_MAX + 1]; /* the account URL; "" until registered */
  char order_url[ACME_URL_MAX + 1];
  struct acme_order order;
  struct acme_authz authz;
  EVP_PKEY *cert_key;
  char *err;
  size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct acme_run *r,
                                                      const char *fmt, ...)
{
  if (r->err && r->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* 0 when the answer's status is want or also; else the CA's problem
 * document (or the bare status) as the error of `step`. */
static int expect(struct acme_run *r, const char *step,
                  const struct acme_reply *rep, long want, long also)
{
  if (rep->status == want || rep->status == also)
    return 0;
  struct acme_problem p;
  char text[sizeof p.type + sizeof p.detail + 4];
  if (rep->body && acme_parse_problem(rep->body, rep->len, &p) == 0) {
    acme_problem_text(&p, text, sizeof text);
    return fail(r, "%s: %s", step, text);
  }
  return fail(r, "%s: HTTP status %ld", step, rep->status);
}

static bool is_bad_nonce(const struct acme_reply *rep)
{
  struct acme_problem p;
  return rep->status == 400 && rep->body &&
         acme_parse_problem(rep->body, rep->len, &p) == 0 &&
         strcmp(p.type, BAD_NONCE) == 0;
}

static int send_plain(struct acme_run *r, const char *step, const char *method,
                      const char *url, struct acme_reply *rep)
{
  char why[512];
  if (acme_http_send(&r->http, method, url, NULL, false, rep, why,
                     sizeof why) != 0)
    return fail(r, "%s: %s", step, why);
  return 0;
}

static int get_directory(struct acme_run *r)
{
  char step[ACME_URL_MAX + 16];
  snprintf(step, sizeof step, "directory %s", r->req->directory_url);
  struct acme_reply rep;
  char why[256];
  if (send_plain(r, step, "GET", r->req->directory_url, &rep) != 0)
    return -1;
  int rc = expect(r, step, &rep, 200, 200);
  if (rc == 0 && acme_parse_directory(rep.body, rep.len, &r->dir, why,
                                      sizeof why) != 0)
    rc = fail(r, "%s: %s", step, why);
  acme_reply_free(&rep);
  return rc;
}

/* Every answer brings a nonce; only the first request, or one after an
 * answer without, asks newNonce. */
static int have_nonce(struct acme_run *r)
{
  if (r->http.nonce[0])
    return 0;
  struct acme_reply rep;
  if (send_plain(r, "new nonce", "HEAD", r->dir.new_nonce, &rep) != 0)
    return -1;
  int rc = expect(r, "new nonce", &rep, 200, 204);
  if (rc == 0 && !r->http.nonce[0])
    rc = fail(r, "new nonce: the answer has no valid Replay-Nonce");
  acme_reply_free(&rep);
  return rc;
}

/* A signed POST (payload NULL: POST-as-GET), sent again with the fresh
 * nonce when the CA refuses the one used. */
static int post(struct acme_run *r, const char *step, const char *url,
                const char *payload, bool pem, struct acme_reply *rep)
{
  memset(rep, 0, sizeof *rep);
  for (int attempt = 0;; attempt++) {
    if (have_nonce(r) != 0)
      return -1;
    char *jws = acme_jws(r->account, r->kid[0] ? r->kid : NULL,
                         r->http.nonce, url, payload);
    r->http.nonce[0] = '\0'; /* single use */
    if (!jws)
      return fail(r, "%s: cannot sign the request", step);
    char why[512];
    int rc = acme_http_send(&r->http, "POST", url, jws, pem, rep, why,
                            sizeof why);
    free(jws);
    if (rc != 0)
      return fail(r, "%s: %s", step, why);
    if (attempt == BAD_NONCE_RETRIES || !is_bad_nonce(rep))
      return 0;
    acme_reply_free(rep);
  }
}

/* post() with a JSON payload, which it takes over. */
static int post_json(struct acme_run *r, const char *step, const char *url,
                     json_t *payload, struct acme_reply *rep)
{
  char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
  json_decref(payload);
  if (!text)
    return fail(r, "%s: out of memory", step);
  int rc = post(r, step, url, text, false, rep);
  free(text);
  return rc;
}

static int load_account_key(struct acme_run *r)
{
  char why[512];
  r->account = acme_account_key(r->req->account_key_file, why, sizeof why);
  if (!r->account)
    return fail(r, "account key: %s", why);
  if (acme_jwk_thumbprint(r->account, r->thumbprint) != 0)
    return fail(r, "account key: cannot compute its thumbprint");
  return 0;
}

/* newAccount answers 201 for a new account and 200 for the key's existing
 * one; either way its URL (the "kid" of later requests) is the Location. */
static int register_account(struct acme_run *r)
{
  json_t *p = json_pack("{s:b}", "termsOfServiceAgreed", 1);
  if (p && r->req->email) {
    char mailto[300];
    snprintf(mailto, sizeof mailto, "mailto:%s", r->req->email);
    json_object_set_new(p, "contact", json_pack("[s]", mailto));
  }
  struct acme_reply rep;
  if (post_json(r, "new account", r->dir.new_account, p, &rep) != 0)
    return -1;
  int rc = expect(r, "new account", &rep, 201, 200);
  if (rc == 0 && !rep.h.location[0])
    rc = fail(r, "new account: the answer has no account URL (Location)");
  if (rc == 0)
    memcpy(r->kid, rep.h.location, sizeof r->kid);
  acme_reply_free(&rep);
  return rc;
}

static int read_order(struct acme_run *r, const char *step,
                      const struct acme_reply *rep)
{
  char why[256];
  if (acme_parse_order(rep->body, rep->len, &r->order, why, sizeof why) != 0)
    return fail(r, "%s: %s", step, why);
  return 0;
}

static int place_order(struct acme_run *r)
{
  char step[ACME_NAME_MAX + 32];
  snprintf(step, sizeof step, "new order for %s", r->req->hostname);
  json_t *p = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "dns",
                        "value", r->req->hostname);
  struct acme_reply rep;
  if (post_json(r, step, r->dir.new_order, p, &rep) != 0)
    return -1;
  int rc = expect(r, step, &rep, 201, 200);
  if (rc == 0 && !rep.h.location[0])
    rc = fail(r, "%s: the answer has no order URL (Location)", step);
  if (rc == 0) {
    memcpy(r->order_url, rep.h.location, sizeof r->order_url);
    rc = read_order(r, step, &rep);
  }
  acme_reply_free(&rep);
  return rc;
}

/* Before a poll: what Retry-After asked for, else a short doubling wait
 * (pebble and real CAs mostly validate in well under a second). The
 * deadline bounds either. */
static int pause_before_poll(struct acme_run *r, const char *step,
                             unsigned attempt, long retry_after_s)
{
  uint64_t ms = POLL_MAX_MS;
  if (retry_after_s > 0)
    ms = (uint64_t)retry_after_s * 1000u;
  else if (attempt < 3)
    ms = (uint64_t)POLL_FIRST_MS << attempt;
  char why[128];
  if (acme_http_wait(&r->http, ms, why, sizeof why) != 0)
    return fail(r, "%s: %s", step, why);
  return 0;
}

/* POST-as-GET of url into r->authz; *retry_after_s from the answer. */
static int fetch_authz(struct acme_run *r, const char *step, const char *url,
                       long *retry_after_s)
{
  struct acme_reply rep;
  char why[256];
  if (post(r, step, url, NULL, false, &rep) != 0)
    return -1;
  int rc = expect(r, step, &rep, 200, 200);
  if (rc == 0 &&
      acme_parse_authz(rep.body, rep.len, &r->authz, why, sizeof why) != 0)
    rc = fail(r, "%s: %s", step, why);
  if (rc == 0 && strcasecmp(r->authz.name, r->req->hostname) != 0)
    rc = fail(r, "%s: the CA asks about another name, %s", step,
              r->authz.name);
  *retry_after_s = rep.retry_after_s;
  acme_reply_free(&rep);
  return rc;
}

static int authz_failed(struct acme_run *r)
{
  char text[sizeof r->authz.error.type + sizeof r->authz.error.detail + 4];
  if (r->authz.has_error)
    acme_problem_text(&r->authz.error, text, sizeof text);
  else
    snprintf(text, sizeof text, "the CA gave no reason");
  return fail(r, "order for %s: authorization %s: %s", r->req->hostname,
              acme_status_name(r->authz.status), text);
}

static int await_authz(struct acme_run *r, const char *step, const char *url,
                       long retry_after_s)
{
  for (unsigned attempt = 0;; attempt++) {
    if (pause_before_poll(r, step, attempt, retry_after_s) != 0 ||
        fetch_authz(r, step, url, &retry_after_s) != 0)
      return -1;
    if (r->authz.status == ACME_STATUS_VALID)
      return 0;
    if (r->authz.status != ACME_STATUS_PENDING)
      return authz_failed(r);
  }
}

/* Publish the answer, tell the CA to look, wait for its verdict. */
static int answer_challenge(struct acme_run *r, const char *step,
                            const char *authz_url)
{
  char keyauth[ACME_KEYAUTH_MAX + 1], token[ACME_TOKEN_MAX + 1];
  char chall_url[ACME_URL_MAX + 1];
  memcpy(token, r->authz.http01_token, sizeof token);
  memcpy(chall_url, r->authz.http01_url, sizeof chall_url);
  if (acme_key_authorization(token, r->thumbprint, keyauth,
                             sizeof keyauth) != 0)
    return fail(r, "%s: cannot form the key authorization", step);
  if (r->sink->publish(r->sink->arg, token, keyauth) != 0)
    return fail(r, "%s: cannot publish the http-01 answer", step);
  struct acme_reply rep;
  int rc = post(r, step, chall_url, "{}", false, &rep);
  if (rc == 0)
    rc = expect(r, step, &rep, 200, 200);
  long retry_after_s = rep.retry_after_s;
  acme_reply_free(&rep);
  if (rc == 0)
    rc = await_authz(r, step, authz_url, retry_after_s);
  r->sink->withdraw(r->sink->arg, token);
  return rc;
}

static int authorize(struct acme_run *r, const char *url)
{
  char step[ACME_NAME_MAX + 32];
  snprintf(step, sizeof step, "authorization for %s", r->req->hostname);
  long ignored;
  if (fetch_authz(r, step, url, &ignored) != 0)
    return -1;
  if (r->authz.status == ACME_STATUS_VALID)
    return 0; /* the CA remembers an earlier validation */
  if (r->authz.status != ACME_STATUS_PENDING)
    return authz_failed(r);
  if (!r->authz.has_http01)
    return fail(r, "%s: the CA offers no http-01 challenge", step);
  return answer_challenge(r, step, url);
}

static int authorize_all(struct acme_run *r)
{
  for (size_t i = 0; i < r->order.n_authz; i++)
    if (authorize(r, r->order.authz[i]) != 0)
      return -1;
  return 0;
}

static int order_failed(struct acme_run *r, const char *step)
{
  char text[sizeof r->order.error.type + sizeof r->order.error.detail + 4];
  if (r->order.has_error)
    acme_problem_text(&r->order.error, text, sizeof text);
  else
    snprintf(text, sizeof text, "the CA gave no reason");
  return fail(r, "%s: order %s: %s", step, acme_status_name(r->order.status),
              text);
}

/* Re-reads the order until it reaches `want`, through pending/processing. */
static int await_order(struct acme_run *r, const char *step,
                       enum acme_status want)
{
  for (unsigned attempt = 0;; attempt++) {
    struct acme_reply rep;
    if (post(r, step, r->order_url, NULL, false, &rep) != 0)
      return -1;
    int rc = expect(r, step, &rep, 200, 200);
    if (rc == 0)
      rc = read_order(r, step, &rep);
    long retry_after_s = rep.retry_after_s;
    acme_reply_free(&rep);
    if (rc != 0)
      return -1;
    if (r->order.status == want)
      return 0;
    if (r->order.status != ACME_STATUS_PENDING &&
        r->order.status != ACME_STATUS_PROCESSING)
      return order_failed(r, step);
    if (pause_before_poll(r, step, attempt, retry_after_s) != 0)
      return -1;
  }
}

static int finalize(struct acme_run *r)
{
  char step[ACME_NAME_MAX + 32];
  snprintf(step, sizeof step, "finalize order for %s", r->req->hostname);
  if (await_order(r, step, ACME_STATUS_READY) != 0)
    return -1;
  r->cert_key = acme_key_new();
  char *csr = r->cert_key ? acme_csr(r->cert_key, r->req->hostname) : NULL;
  json_t *p = csr ? json_pack("{s:s}", "csr", csr) : NULL;
  free(csr);
  if (!p)
    return fail(r, "%s: cannot make the key and CSR", step);
  struct acme_reply rep;
  if (post_json(r, step, r->order.finalize, p, &rep) != 0)
    return -1;
  int rc = expect(r, step, &rep, 200, 200);
  acme_reply_free(&rep);
  return rc == 0 ? await_order(r, step, ACME_STATUS_VALID) : -1;
}

static int save(struct acme_run *r, const char *chain, size_t chain_len)
{
  size_t key_len = 0;
  char *key = acme_key_pem(r->cert_key, &key_len);
  if (!key)
    return fail(r, "certificate for %s: cannot encode its key",
                r->req->hostname);
  const struct acme_file files[] = {
      {r->req->key_file, 0600, key, key_len},
      {r->req->cert_file, 0644, chain, chain_len},
  };
  char why[512];
  int rc = acme_write_files(files, 2, why, sizeof why);
  OPENSSL_cleanse(key, key_len);
  free(key);
  return rc == 0 ? 0 : fail(r, "%s", why);
}

static int download(struct acme_run *r)
{
  char step[ACME_NAME_MAX + 32];
  snprintf(step, sizeof step, "certificate for %s", r->req->hostname);
  if (!r->order.certificate[0])
    return fail(r, "%s: the valid order has no certificate URL", step);
  struct acme_reply rep;
  if (post(r, step, r->order.certificate, NULL, true, &rep) != 0)
    return -1;
  char *chain = NULL, why[256];
  size_t chain_len = 0;
  int rc = expect(r, step, &rep, 200, 200);
  if (rc == 0 && acme_chain_pem(rep.body, rep.len, r->cert_key,
                                r->req->hostname, &chain, &chain_len, why,
                                sizeof why) != 0)
    rc = fail(r, "%s: %s", step, why);
  acme_reply_free(&rep);
  if (rc == 0)
    rc = save(r, chain, chain_len);
  free(chain);
  return rc;
}

/* One address of printable ASCII: it becomes a mailto: URL. */
static bool email_valid(const char *email)
{
  size_t len = strlen(email);
  if (len < 3 || len > 254 || !strchr(email, '@'))
    return false;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)email[i] <= 0x20 || (unsigned char)email[i] >= 0x7f ||
        strchr(",;?&<>\"", email[i]))
      return false;
  return true;
}

static int check_request(const struct acme_request *req,
                         const struct acme_challenge_sink *sink, char *err,
                         size_t errlen)
{
  if (!req || !sink || !sink->publish || !sink->withdraw)
    return errorf(err, errlen, "acme: no request or no challenge sink");
  if (!req->directory_url || strncmp(req->directory_url, "https://", 8) != 0)
    return errorf(err, errlen, "acme: the directory URL must be https://");
  if (!req->account_key_file || !req->cert_file || !req->key_file)
    return errorf(err, errlen, "acme: the account key, certificate and key "
                               "files must all be named");
  if (!req->hostname || !acme_name_valid(req->hostname))
    return errorf(err, errlen,
                  "acme: \"%s\" is not a DNS name a CA can validate over "
                  "HTTP (letters, digits, hyphens, dots; no wildcard)",
                  req->hostname ? req->hostname : "");
  if (req->email && !email_valid(req->email))
    return errorf(err, errlen, "acme: \"%s\" is not one e-mail address",
                  req->email);
  return 0;
}

int acme_issue(const struct acme_request *req,
               const struct acme_challenge_sink *sink, char *err,
               size_t errlen)
{
  if (check_request(req, sink, err, errlen) != 0)
    return -1;
  /* On the heap: the structs hold several URLs, and a worker thread's
   * stack is not the place for them. */
  struct acme_run *r = calloc(1, sizeof *r);
  if (!r)
    return errorf(err, errlen, "acme: out of memory");
  r->req = req;
  r->sink = sink;
  r->err = err;
  r->errlen = errlen;
  char why[128];
  int rc = acme_http_open(&r->http, req->ca_file, req->timeout_s, why,
                          sizeof why) == 0
               ? 0
               : fail(r, "acme: %s", why);
  if (rc == 0)
    rc = get_directory(r);
  if (rc == 0)
    rc = load_account_key(r);
  if (rc == 0)
    rc = register_account(r);
  if (rc == 0)
    rc = place_order(r);
  if (rc == 0)
    rc = authorize_all(r);
  if (rc == 0)
    rc = finalize(r);
  if (rc == 0)
    rc = download(r);
  acme_http_close(&r->http);
  EVP_PKEY_free(r->account);
  EVP_PKEY_free(r->cert_key);
  free(r);
  return rc;
}
