#include "agent/api_client_internal.h"

#include <assert.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "auth/crypto.h"
#include "base/log.h"
#include "base/names.h"
#include "auth/enrollment.h"
#include "auth/login.h"
#include "net/tls_ctx.h"

#define MAX_REPLY (1024 * 1024)

int client_init(struct client *c, const struct conn_url *server,
                const char *device_id, char *err, size_t errlen)
{
  memset(c, 0, sizeof *c);
  c->server = *server;
  /* Refused, never cut: two ids that share their first 63 characters
   * must not become one device. */
  if (!name_is_plain(device_id, sizeof c->device_id - 1)) {
    snprintf(err, errlen,
             "device id '%.80s%s' is not 1 to %zu letters, digits, '.', '_' "
             "or '-'",
             device_id, strlen(device_id) > 80 ? "..." : "",
             sizeof c->device_id - 1);
    return -1;
  }
  if (secret_from_text(server->secret, &c->secret) != 0) {
    snprintf(err, errlen,
             "the secret in the connection string is not the %d characters "
             "weft server printed",
             SECRET_TEXT_LEN);
    return -1;
  }
  bool v6 = server->host_kind == URL_HOST_IPV6;
  snprintf(c->base_url, sizeof c->base_url, "https://%s%s%s:%u", v6 ? "[" : "",
           server->host, v6 ? "]" : "", server->port);
  snprintf(c->device_id, sizeof c->device_id, "%s", device_id);
  c->timeout_ms = 15000;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return 0;
}

int client_init_keyed(struct client *c, const struct enrollment *e,
                      char *err, size_t errlen)
{
  memset(c, 0, sizeof *c);
  c->key_only = true;
  snprintf(c->spki_pin, sizeof c->spki_pin, "%s", e->pin);
  c->server.host_kind = e->host_kind;
  snprintf(c->server.host, sizeof c->server.host, "%s", e->host);
  c->server.port = e->port;
  bool v6 = e->host_kind == URL_HOST_IPV6;
  snprintf(c->base_url, sizeof c->base_url, "https://%s%s%s:%u", v6 ? "[" : "",
           e->host, v6 ? "]" : "", e->port);
  if (!name_is_plain(e->device_id, sizeof c->device_id - 1)) {
    snprintf(err, errlen, "device id '%.80s' is not a plain name",
             e->device_id);
    return -1;
  }
  snprintf(c->device_id, sizeof c->device_id, "%s", e->device_id);
  c->timeout_ms = 15000;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return 0;
}

/* An enrolled device's check of the connection a response came over:
 * libcurl refused any other key already (the pin is set from the start);
 * this only makes sure it was read. */
static int check_pin(struct client *c, char *err, size_t errlen)
{
  if (!c->conn.seen) {
    snprintf(err, errlen, "cannot read the TLS connection to %s", c->base_url);
    return -1;
  }
  assert(!strcmp(c->conn.spki_pin, c->spki_pin));
  return 0;
}

int client_init_local(struct client *c, const char *socket_path, char *err,
                      size_t errlen)
{
  memset(c, 0, sizeof *c);
  if (strlen(socket_path) >= sizeof c->local_socket) {
    snprintf(err, errlen, "the socket path %s is too long", socket_path);
    return -1;
  }
  snprintf(c->local_socket, sizeof c->local_socket, "%s", socket_path);
  snprintf(c->base_url, sizeof c->base_url, "http://localhost");
  snprintf(c->device_id, sizeof c->device_id, "local");
  c->timeout_ms = 15000;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return 0;
}

void client_free(struct client *c)
{
  assert(!c->calls); /* cancelled by their owner first */
  if (c->curl)
    curl_easy_cleanup(c->curl);
  free(c->session);
  crypto_wipe(c, sizeof *c);
  curl_global_cleanup();
}

void client_default_device_id(char *out, size_t len)
{
  char host[256] = "device";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  size_t n = 0;
  for (const char *p = host; *p && n + 1 < len && n < 63; p++) {
    char ch = *p;
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
    out[n++] = ok ? ch : '-';
  }
  out[n] = '\0';
  if (n == 0)
    snprintf(out, len, "device");
}

void client_error_text(json_t *reply, int status, char *out, size_t len)
{
  json_t *e = json_object_get(reply, "error");
  const char *msg = json_string_value(json_object_get(e, "message"));
  const char *code = json_string_value(json_object_get(e, "code"));
  if (msg)
    snprintf(out, len, "%s (%d %s)", msg, status, code ? code : "");
  else
    snprintf(out, len, "HTTP status %d", status);
}

static size_t collect(char *ptr, size_t size, size_t n, void *arg)
{
  struct client_reply_buf *b = arg;
  size_t add = size * n;
  if (b->len + add > MAX_REPLY)
    return 0; /* abort: a control reply is never this large */
  char *data = realloc(b->data, b->len + add + 1);
  if (!data)
    return 0;
  memcpy(data + b->len, ptr, add);
  b->data = data;
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

/* The TLS connection an answer is arriving on: its channel binding and the
 * server's certificate. libcurl's SSL pointer is only valid during the
 * transfer, so this runs from the header callback. */
static void note_connection(struct client *c)
{
  struct curl_tlssessioninfo *info = NULL;
  if (c->conn.seen ||
      curl_easy_getinfo(c->curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK ||
      !info || info->backend != CURLSSLBACKEND_OPENSSL || !info->internals)
    return;
  SSL *ssl = info->internals;
  X509 *cert = SSL_get1_peer_certificate(ssl);
  c->conn.seen = tls_binding(ssl, c->conn.binding) == 0 &&
                 tls_cert_fingerprint(cert, c->conn.cert_sha256) == 0 &&
                 tls_spki_pin(cert, c->conn.spki_pin) == 0;
  X509_free(cert);
}

/* Notes a Retry-After header, so a 429 can be waited out. */
static size_t header_cb(char *line, size_t size, size_t n, void *arg)
{
  struct client *c = arg;
  size_t len = size * n;
  note_connection(c);
  if (len > 12 && !strncasecmp(line, "Retry-After:", 12))
    c->retry_after = strtol(line + 12, NULL, 10);
  return len;
}

int client_req_setup(struct client *c, struct client_req *r,
                     const char *method, const char *path, json_t *body,
                     const char *bearer, char *err, size_t errlen)
{
  memset(r, 0, sizeof *r);
  if (!c->curl)
    c->curl = curl_easy_init();
  CURL *curl = c->curl;
  if (!curl) {
    snprintf(err, errlen, "libcurl failed to start");
    return -1;
  }
  curl_easy_reset(curl);
  char url[sizeof c->base_url + 512];
  snprintf(url, sizeof url, "%s%s", c->base_url, path);
  r->text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
  r->headers = curl_slist_append(r->headers, "Accept: application/json");
  if (bearer) {
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
    r->headers = curl_slist_append(r->headers, auth);
  }
  c->retry_after = 0;
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (c->fresh_next && bearer) {
    /* A connection of its own, closed after: the kept one may have died
     * unseen, and leaving the new one beside it would give the login
     * that may follow two to choose from (its two steps must share one
     * TLS channel, so they never take this: a login's first step waits
     * for the request). */
    curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    c->fresh_next = false;
  }
  /* Nor is a connection idle this long reused (a cut link can leave one
   * half open); a login's two steps come well within it. */
  curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, 5L);
  if (c->local_socket[0]) { /* plain HTTP over the socket: nothing to pin */
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, c->local_socket);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  } else {
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  }
  /* No CA decides who the server is: before the login, the login itself
   * does (it is bound to this TLS channel); after it, the pin does. */
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  if ((bearer || c->key_only) && c->spki_pin[0])
    curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, c->spki_pin);
  memset(&c->conn, 0, sizeof c->conn);
  c->key_changed = false;
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r->buf);
  if (r->text)
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->text);
  return 0;
}

int client_req_finish(struct client *c, struct client_req *r, CURLcode rc,
                      json_t **reply, char *err, size_t errlen)
{
  long status = 0;
  *reply = NULL;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (r->buf.len) {
      json_error_t error;
      *reply = json_loadb(r->buf.data, r->buf.len, JSON_REJECT_DUPLICATES,
                          &error);
    }
  } else if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
    c->key_changed = true;
    snprintf(err, errlen,
             "the server at %s shows another TLS key than the one %s: "
             "refusing to send it anything",
             c->base_url,
             c->key_only ? "the device's enrollment string pinned"
                         : "this session logged in over");
  } else if (c->local_socket[0]) {
    snprintf(err, errlen,
             "cannot reach the server through its socket %s: %s (is weft "
             "server running on this state directory, and may you open "
             "it?)",
             c->local_socket, curl_easy_strerror(rc));
  } else {
    snprintf(err, errlen, "cannot reach the server at %s: %s", c->base_url,
             curl_easy_strerror(rc));
  }
  client_req_free(r);
  return (int)status;
}

void client_req_free(struct client_req *r)
{
  free(r->buf.data);
  free(r->text);
  curl_slist_free_all(r->headers);
  memset(r, 0, sizeof *r);
}

static int raw_request_once(struct client *c, const char *method,
                            const char *path, json_t *body, const char *bearer,
                            json_t **reply, char *err, size_t errlen)
{
  *reply = NULL;
  assert(!c->calls); /* c->curl is not in a multi */
  struct client_req r;
  if (client_req_setup(c, &r, method, path, body, bearer, err, errlen) != 0)
    return 0;
  CURLcode rc = curl_easy_perform(c->curl);
  return client_req_finish(c, &r, rc, reply, err, errlen);
}

/* A request; an answer of 429 (the server is busy for our address) is
 * waited out as its Retry-After asks, a few times, a minute at most. */
static int raw_request(struct client *c, const char *method, const char *path,
                       json_t *body, const char *bearer, json_t **reply,
                       char *err, size_t errlen)
{
  long waited = 0;
  for (int attempt = 0;; attempt++) {
    int status = raw_request_once(c, method, path, body, bearer, reply, err,
                                  errlen);
    long wait = c->retry_after > 0 ? c->retry_after : 1;
    if (status != 429 || attempt == 5 || waited + wait > 60)
      return status;
    json_decref(*reply);
    *reply = NULL;
    sleep((unsigned)wait);
    waited += wait;
  }
}

static const char *b64(const uint8_t *bin, size_t len, char *buf, size_t size)
{
  b64url_encode(bin, len, buf, size);
  return buf;
}

json_t *client_login_challenge(struct login_steps *ls)
{
  char t1[64];
  crypto_random(ls->nc, sizeof ls->nc);
  return json_pack("{s:i,s:s,s:s}", "version", LOGIN_VERSION, "step",
                   "challenge", "client_nonce",
                   b64(ls->nc, sizeof ls->nc, t1, sizeof t1));
}

/* An enrolled device's second step: no proof to check (it holds no
 * secret; the pinned certificate stands for it) and no secret's answer,
 * only its key's signature over both nonces, this channel and its id. */
static json_t *key_answer(struct client *c, struct login_steps *ls,
                          json_t *reply, char *err, size_t errlen)
{
  const char *ns_text = json_string_value(json_object_get(reply, "server_nonce"));
  size_t n1 = 0;
  if (check_pin(c, err, errlen) != 0)
    return NULL;
  if (!ns_text || !c->has_key ||
      b64url_decode(ns_text, strlen(ns_text), ls->ns, sizeof ls->ns, &n1) !=
          0 ||
      n1 != sizeof ls->ns) {
    snprintf(err, errlen, "the server's challenge is malformed");
    return NULL;
  }
  uint8_t msg[256], sig[DEVICE_KEY_SIG_LEN];
  char t1[64], t2[128];
  size_t n = device_key_login_message(ls->nc, ls->ns, sizeof ls->nc,
                                      ls->binding, sizeof ls->binding,
                                      c->device_id, msg, sizeof msg);
  if (!n || device_key_sign(&c->key, msg, n, sig) != 0) {
    snprintf(err, errlen, "cannot sign the login with the device key");
    return NULL;
  }
  return json_pack("{s:i,s:s,s:s,s:s,s:s}", "version", LOGIN_VERSION, "step",
                   "key", "server_nonce", b64(ls->ns, sizeof ls->ns, t1,
                                              sizeof t1),
                   "device_id", c->device_id, "device_sig",
                   b64(sig, sizeof sig, t2, sizeof t2));
}

json_t *client_login_answer(struct client *c, struct login_steps *ls,
                            int status, json_t *reply, char *err,
                            size_t errlen)
{
  uint8_t proof[LOGIN_SEALED_LEN], answer[LOGIN_SEALED_LEN];
  char t1[64], t2[128];
  if (status != 200) {
    if (status)
      client_error_text(reply, status, t2, sizeof t2),
          snprintf(err, errlen, "login refused: %s", t2);
    return NULL;
  }
  if (!c->conn.seen) {
    snprintf(err, errlen, "cannot read the TLS connection to %s", c->base_url);
    return NULL;
  }
  /* Both messages are bound to the connection the challenge came over. */
  memcpy(ls->binding, c->conn.binding, sizeof ls->binding);
  if (c->key_only)
    return key_answer(c, ls, reply, err, errlen);
  const char *ns_text = json_string_value(json_object_get(reply, "server_nonce"));
  const char *proof_text = json_string_value(json_object_get(reply, "proof"));
  size_t n1 = 0, n2 = 0;
  bool parsed =
      ns_text && proof_text &&
      b64url_decode(ns_text, strlen(ns_text), ls->ns, sizeof ls->ns, &n1) ==
          0 &&
      b64url_decode(proof_text, strlen(proof_text), proof, sizeof proof,
                    &n2) == 0 &&
      n1 == sizeof ls->ns;
  /* The server must prove it knows the secret before we prove we do. */
  if (!parsed ||
      login_client_check_proof(&c->secret, ls->nc, ls->ns, ls->binding,
                               sizeof ls->binding, proof, n2) != 0) {
    snprintf(err, errlen,
             "the server at %s could not prove it knows the secret over this "
             "TLS connection: the connection string is wrong, this is not "
             "your weft server, or something between us ends TLS (a proxy "
             "must pass the control port's TLS through untouched)",
             c->base_url);
    return NULL;
  }
  if (login_client_answer(&c->secret, ls->nc, ls->ns, ls->binding,
                          sizeof ls->binding, answer) != 0) {
    snprintf(err, errlen, "cannot compute the login answer");
    return NULL;
  }
  json_t *step2 = json_pack(
      "{s:i,s:s,s:s,s:s,s:s}", "version", LOGIN_VERSION, "step", "answer",
      "server_nonce", b64(ls->ns, sizeof ls->ns, t1, sizeof t1), "answer",
      b64(answer, sizeof answer, t2, sizeof t2), "device_id", c->device_id);
  if (c->has_key) {
    /* The device's key signs this login: both nonces, this connection,
     * this id (auth/device_key.h). */
    uint8_t msg[256], sig[DEVICE_KEY_SIG_LEN];
    char t3[128];
    size_t n = device_key_login_message(ls->nc, ls->ns, sizeof ls->nc,
                                        ls->binding, sizeof ls->binding,
                                        c->device_id, msg, sizeof msg);
    if (!n || device_key_sign(&c->key, msg, n, sig) != 0) {
      json_decref(step2);
      snprintf(err, errlen, "cannot sign the login with the device key");
      return NULL;
    }
    json_object_set_new(step2, "device_key",
                        json_string(b64(c->key.public_key,
                                        sizeof c->key.public_key, t1,
                                        sizeof t1)));
    json_object_set_new(step2, "device_sig",
                        json_string(b64(sig, sizeof sig, t3, sizeof t3)));
  }
  return step2;
}

int client_login_accept(struct client *c, const struct login_steps *ls,
                        int status, json_t *reply, char *err, size_t errlen)
{
  const char *token = json_string_value(json_object_get(reply, "token"));
  c->refusal[0] = '\0';
  if (status == 403) {
    const char *code = json_string_value(
        json_object_get(json_object_get(reply, "error"), "code"));
    snprintf(c->refusal, sizeof c->refusal, "%s", code ? code : "");
  }
  if (status != 200 || !token) {
    char why[256];
    client_error_text(reply, status, why, sizeof why);
    if (status)
      snprintf(err, errlen, "the server refused the login: %s", why);
    return -1;
  }
  if (!c->conn.seen ||
      memcmp(c->conn.binding, ls->binding, sizeof ls->binding) != 0) {
    snprintf(err, errlen, "the connection to %s changed during the login",
             c->base_url);
    return -1;
  }
  if (c->cert_sha256[0] && strcmp(c->cert_sha256, c->conn.cert_sha256))
    log_info("the server's TLS certificate changed (SHA-256 %.16s... is now "
             "%.16s...); the login over it proved it is still your server",
             c->cert_sha256, c->conn.cert_sha256);
  memcpy(c->cert_sha256, c->conn.cert_sha256, sizeof c->cert_sha256);
  memcpy(c->spki_pin, c->conn.spki_pin, sizeof c->spki_pin);
  free(c->session);
  c->session = strdup(token);
  json_int_t ttl = json_integer_value(json_object_get(reply, "expires_in"));
  c->session_expires = clock_wall_s() + (ttl > 0 ? ttl : 60);
  return c->session ? 0 : -1;
}

int client_enroll(struct client *c, const uint8_t *token, size_t token_len,
                  char *err, size_t errlen)
{
  /* A first request learns the connection (and sends nothing of ours);
   * the enrollment then goes on it, pinned, signed over its channel. */
  json_t *reply = NULL;
  int status = raw_request(c, "GET", "/healthz", NULL, NULL, &reply, err,
                           errlen);
  json_decref(reply);
  if (!status)
    return -1;
  if (check_pin(c, err, errlen) != 0)
    return -1;
  uint8_t msg[256], sig[DEVICE_KEY_SIG_LEN];
  char t1[64], t2[64], t3[128];
  size_t n = device_key_enroll_message(token, token_len, c->conn.binding,
                                       sizeof c->conn.binding, c->device_id,
                                       msg, sizeof msg);
  if (!n || device_key_sign(&c->key, msg, n, sig) != 0) {
    snprintf(err, errlen, "cannot sign the enrollment with the device key");
    return -1;
  }
  json_t *body = json_pack(
      "{s:s,s:s,s:s,s:s}", "device_id", c->device_id, "token",
      b64(token, token_len, t1, sizeof t1), "device_key",
      b64(c->key.public_key, sizeof c->key.public_key, t2, sizeof t2),
      "device_sig", b64(sig, sizeof sig, t3, sizeof t3));
  status = raw_request(c, "POST", "/v1/enroll", body, NULL, &reply, err,
                       errlen);
  json_decref(body);
  crypto_wipe(t1, sizeof t1);
  if (status != 200) {
    if (status) {
      char why[512];
      client_error_text(reply, status, why, sizeof why);
      snprintf(err, errlen, "the server refused the enrollment: %s", why);
    }
    json_decref(reply);
    return -1;
  }
  json_decref(reply);
  return 0;
}

bool client_session_fresh(const struct client *c)
{
  if (c->local_socket[0])
    return true; /* the socket is the credential */
  return c->session &&
         clock_wall_s() + CLIENT_RELOGIN_MARGIN_S < c->session_expires;
}

static int login(struct client *c, char *err, size_t errlen)
{
  struct login_steps ls;
  json_t *step1 = client_login_challenge(&ls), *reply;
  int status = raw_request(c, "POST", "/v1/login", step1, NULL, &reply, err,
                           errlen);
  json_decref(step1);
  json_t *step2 = client_login_answer(c, &ls, status, reply, err, errlen);
  json_decref(reply);
  if (!step2)
    return -1;
  status = raw_request(c, "POST", "/v1/login", step2, NULL, &reply, err,
                       errlen);
  json_decref(step2);
  int rc = client_login_accept(c, &ls, status, reply, err, errlen);
  json_decref(reply);
  crypto_wipe(&ls, sizeof ls);
  return rc;
}

int client_ensure_session(struct client *c, char *err, size_t errlen)
{
  if (client_session_fresh(c))
    return 0;
  return login(c, err, errlen);
}

int client_request(struct client *c, const char *method, const char *path,
                   json_t *body, json_t **reply, char *err, size_t errlen)
{
  *reply = NULL;
  if (client_ensure_session(c, err, errlen) != 0)
    return 0;
  int status = raw_request(c, method, path, body, c->session, reply, err,
                           errlen);
  if (status == 401 || c->key_changed) {
    /* The server may have restarted with a new key, or a new certificate:
     * log in once more (the login checks the new certificate). The
     * first reply goes: a failed login below must not leave it to the
     * caller, which frees *reply. */
    json_decref(*reply);
    *reply = NULL;
    free(c->session);
    c->session = NULL;
    if (client_ensure_session(c, err, errlen) != 0)
      return 0;
    status = raw_request(c, method, path, body, c->session, reply, err,
                         errlen);
  }
  return status;
}
