#include "auth/tokens.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "auth/jwt.h"

#define ISSUER "weft"

static const struct jwt_expect session_expect = {
    .iss = ISSUER, .aud = "weft-control", .typ = "session", .leeway_s = 60};
static const struct jwt_expect orchestration_expect = {
    .iss = ISSUER, .aud = "weft-transport", .typ = "orchestration",
    .leeway_s = 60};

int tokens_init(struct tokens *t, const uint8_t server_key[32])
{
  memset(t, 0, sizeof *t);
  static const char salt[] = "weft/1 token keys";
  static const char session_info[] = "weft/1 jwt session";
  static const char orchestration_info[] = "weft/1 jwt orchestration";
  if (crypto_hkdf_sha256(server_key, 32, (const uint8_t *)salt,
                         sizeof salt - 1, (const uint8_t *)session_info,
                         sizeof session_info - 1, t->session_key, 32) != 0 ||
      crypto_hkdf_sha256(server_key, 32, (const uint8_t *)salt,
                         sizeof salt - 1, (const uint8_t *)orchestration_info,
                         sizeof orchestration_info - 1, t->orchestration_key,
                         32) != 0)
    return -1;
  return 0;
}

void tokens_free(struct tokens *t)
{
  free(t->used);
  crypto_wipe(t, sizeof *t);
}

static void new_jti(char out[24])
{
  uint8_t raw[16];
  crypto_random(raw, sizeof raw);
  b64url_encode(raw, sizeof raw, out, 24);
}

static json_t *base_claims(const char *aud, const char *typ,
                           const char *subject, int64_t now, int64_t ttl)
{
  char jti[24];
  new_jti(jti);
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "iss", ISSUER, "aud",
                   aud, "typ", typ, "sub", subject, "jti", jti, "iat",
                   (json_int_t)now, "nbf", (json_int_t)now, "exp",
                   (json_int_t)(now + ttl));
}

int tokens_issue_session(const struct tokens *t, const char *subject,
                         const char *via, int64_t now, char **out)
{
  json_t *c = base_claims(session_expect.aud, session_expect.typ, subject, now,
                          SESSION_TTL_S);
  if (!c)
    return -1;
  if (via)
    json_object_set_new(c, "via", json_string(via));
  int rc = jwt_sign(t->session_key, sizeof t->session_key, c, out);
  json_decref(c);
  return rc;
}

int tokens_verify_session(const struct tokens *t, const char *token,
                          size_t len, const char *via, int64_t now,
                          char *subject, size_t subject_len)
{
  json_t *payload;
  int rc = jwt_verify(t->session_key, sizeof t->session_key, token, len,
                      &session_expect, now, &payload);
  if (rc != JWT_OK)
    return rc;
  const char *token_via = json_string_value(json_object_get(payload, "via"));
  if ((via || token_via) && (!via || !token_via || strcmp(via, token_via))) {
    json_decref(payload);
    return JWT_ECLAIMS; /* a per-IP session used through another address */
  }
  snprintf(subject, subject_len, "%s",
           json_string_value(json_object_get(payload, "sub")));
  json_decref(payload);
  return JWT_OK;
}

int tokens_issue_orchestration(const struct tokens *t,
                               const struct orchestration_claims *oc,
                               int64_t now, char **out)
{
  json_t *c = base_claims(orchestration_expect.aud, orchestration_expect.typ,
                          oc->device_id, now, ORCHESTRATION_TTL_S);
  if (!c)
    return -1;
  json_object_set_new(c, "tid", json_string(oc->tunnel_id));
  json_object_set_new(c, "transport", json_string(oc->transport));
  if (oc->port) {
    json_object_set_new(c, "proto", json_string(oc->proto));
    json_object_set_new(c, "port", json_integer(oc->port));
  }
  if (oc->hostname[0])
    json_object_set_new(c, "host", json_string(oc->hostname));
  int rc = jwt_sign(t->orchestration_key, sizeof t->orchestration_key, c, out);
  json_decref(c);
  return rc;
}

static bool spent(struct tokens *t, const char *jti, int64_t now)
{
  for (size_t i = 0; i < t->used_count;) {
    if (t->used[i].expires + JWT_MAX_LEEWAY_S < now) {
      t->used[i] = t->used[--t->used_count]; /* can no longer verify anyway */
      continue;
    }
    if (!strcmp(t->used[i].jti, jti))
      return true;
    i++;
  }
  return false;
}

static int spend(struct tokens *t, const char *jti, int64_t expires)
{
  if (t->used_count == TOKENS_USED_MAX)
    return -1;
  if (!t->used) {
    t->used = calloc(TOKENS_USED_MAX, sizeof *t->used);
    if (!t->used)
      return -1;
  }
  struct used_jti *u = &t->used[t->used_count++];
  snprintf(u->jti, sizeof u->jti, "%s", jti);
  u->expires = expires;
  return 0;
}

static void copy_claim(json_t *payload, const char *name, char *dst,
                       size_t len)
{
  const char *v = json_string_value(json_object_get(payload, name));
  snprintf(dst, len, "%s", v ? v : "");
}

int tokens_verify_orchestration(struct tokens *t, const char *token,
                                size_t len, const char *transport, int64_t now,
                                bool consume, struct orchestration_claims *out)
{
  json_t *payload;
  int rc = jwt_verify(t->orchestration_key, sizeof t->orchestration_key, token,
                      len, &orchestration_expect, now, &payload);
  if (rc != JWT_OK)
    return rc;
  const char *jti = json_string_value(json_object_get(payload, "jti"));
  const char *tr = json_string_value(json_object_get(payload, "transport"));
  const char *tid = json_string_value(json_object_get(payload, "tid"));
  if (!tr || !tid || strcmp(tr, transport) || strlen(jti) >= 24 ||
      spent(t, jti, now)) {
    json_decref(payload);
    return JWT_ECLAIMS;
  }
  if (consume &&
      spend(t, jti, json_integer_value(json_object_get(payload, "exp"))) != 0) {
    json_decref(payload);
    return JWT_ECLAIMS; /* cannot remember it: refuse rather than allow reuse */
  }
  memset(out, 0, sizeof *out);
  copy_claim(payload, "sub", out->device_id, sizeof out->device_id);
  copy_claim(payload, "tid", out->tunnel_id, sizeof out->tunnel_id);
  copy_claim(payload, "transport", out->transport, sizeof out->transport);
  copy_claim(payload, "proto", out->proto, sizeof out->proto);
  copy_claim(payload, "host", out->hostname, sizeof out->hostname);
  out->port = (uint16_t)json_integer_value(json_object_get(payload, "port"));
  out->expires_at = json_integer_value(json_object_get(payload, "exp"));
  json_decref(payload);
  return JWT_OK;
}
