#include "tunnel/approvals.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Six digits from a hash of the request's id, device, key and body:
 * the same on both sides, and another for any other request. */
static void verification_code(struct approval *ap)
{
  char *body = json_dumps(ap->request, JSON_COMPACT | JSON_SORT_KEYS);
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, 8);
  crypto_generichash_update(&st, (const uint8_t *)ap->id, strlen(ap->id) + 1);
  crypto_generichash_update(&st, (const uint8_t *)ap->device_id,
                            strlen(ap->device_id) + 1);
  crypto_generichash_update(&st, (const uint8_t *)ap->key_fingerprint,
                            strlen(ap->key_fingerprint) + 1);
  if (body)
    crypto_generichash_update(&st, (const uint8_t *)body, strlen(body));
  uint8_t h[8];
  crypto_generichash_final(&st, h, sizeof h);
  free(body);
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof h; i++)
    v = v << 8 | h[i];
  unsigned n = (unsigned)(v % 1000000);
  snprintf(ap->code, sizeof ap->code, "%03u-%03u", n / 1000, n % 1000);
}

struct approval *approvals_add(struct approvals *a, const char *device_id,
                               json_t *request, const char *from,
                               const char *key_fp, int64_t now, char *why,
                               size_t whylen)
{
  approvals_expire(a, now);
  for (struct approval *ap = a->head; ap; ap = ap->next)
    if (ap->state == APPROVAL_PENDING && !strcmp(ap->device_id, device_id)) {
      snprintf(why, whylen, "device %s already waits for approval of %s",
               device_id, ap->id);
      return NULL;
    }
  if (a->count >= APPROVALS_MAX) {
    snprintf(why, whylen, "%d requests already wait for an administrator",
             APPROVALS_MAX);
    return NULL;
  }
  struct approval *ap = calloc(1, sizeof *ap);
  if (!ap) {
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  uint8_t raw[8];
  randombytes_buf(raw, sizeof raw);
  ap->id[0] = 'a';
  sodium_bin2hex(ap->id + 1, sizeof ap->id - 1, raw, sizeof raw);
  snprintf(ap->device_id, sizeof ap->device_id, "%s", device_id);
  snprintf(ap->from, sizeof ap->from, "%s", from ? from : "");
  snprintf(ap->key_fingerprint, sizeof ap->key_fingerprint, "%s",
           key_fp ? key_fp : "");
  ap->request = json_incref(request);
  verification_code(ap);
  ap->created = now;
  ap->state = APPROVAL_PENDING;
  ap->next = a->head;
  a->head = ap;
  a->count++;
  return ap;
}

struct approval *approvals_enrollment(struct approvals *a,
                                      const char *device_id,
                                      const uint8_t key[32], const char *from,
                                      const char *key_fp, int64_t now,
                                      char *why, size_t whylen)
{
  approvals_expire(a, now);
  for (struct approval *ap = a->head; ap; ap = ap->next)
    if (ap->enrollment && !strcmp(ap->device_id, device_id) &&
        !memcmp(ap->device_key, key, sizeof ap->device_key))
      return ap; /* the device asks again while it waits */
  json_t *what = json_pack("{s:s}", "enroll", key_fp);
  struct approval *ap =
      approvals_add(a, device_id, what, from, key_fp, now, why, whylen);
  json_decref(what);
  if (ap) {
    ap->enrollment = true;
    memcpy(ap->device_key, key, sizeof ap->device_key);
  }
  return ap;
}

struct approval *approvals_find(struct approvals *a, const char *id)
{
  for (struct approval *ap = a->head; ap; ap = ap->next)
    if (!strcmp(ap->id, id))
      return ap;
  return NULL;
}

void approvals_remove(struct approvals *a, struct approval *ap)
{
  for (struct approval **pp = &a->head; *pp; pp = &(*pp)->next)
    if (*pp == ap) {
      *pp = ap->next;
      a->count--;
      break;
    }
  json_decref(ap->request);
  json_decref(ap->tunnel);
  free(ap);
}

void approvals_expire(struct approvals *a, int64_t now)
{
  for (struct approval *ap = a->head, *next; ap; ap = next) {
    next = ap->next;
    bool stale = ap->state == APPROVAL_PENDING
                     ? now - ap->created >= APPROVAL_WAIT_S
                     : now - ap->decided_at >= APPROVAL_KEEP_S;
    if (stale)
      approvals_remove(a, ap);
  }
}

void approvals_free(struct approvals *a)
{
  while (a->head)
    approvals_remove(a, a->head);
}

const char *approval_state_name(enum approval_state s)
{
  switch (s) {
  case APPROVAL_PENDING:
    return "pending";
  case APPROVAL_APPROVED:
    return "approved";
  case APPROVAL_DENIED:
    return "denied";
  case APPROVAL_FAILED:
    return "failed";
  }
  return "unknown";
}

json_t *approval_to_json(const struct approval *ap, int64_t now,
                         int with_tunnel)
{
  /* A TLS secret's private key is for the server alone: shown as given. */
  json_t *request = json_copy(ap->request);
  if (request && json_object_get(request, "tls_secret"))
    json_object_set_new(request, "tls_secret",
                        json_string("(a certificate and its key)"));
  json_t *doc = json_pack(
      "{s:s, s:s, s:s, s:I, s:o?}", "id", ap->id, "state",
      approval_state_name(ap->state), "device_id", ap->device_id, "created",
      (json_int_t)ap->created, "request", request);
  if (ap->state == APPROVAL_PENDING)
    json_object_set_new(doc, "expires_in",
                        json_integer(ap->created + APPROVAL_WAIT_S - now));
  json_object_set_new(doc, "code", json_string(ap->code));
  json_object_set_new(doc, "kind",
                      json_string(ap->enrollment ? "enrollment" : "tunnel"));
  if (ap->from[0])
    json_object_set_new(doc, "from", json_string(ap->from));
  if (ap->key_fingerprint[0])
    json_object_set_new(doc, "key_fingerprint",
                        json_string(ap->key_fingerprint));
  if (ap->decided_by[0])
    json_object_set_new(doc, "decided_by", json_string(ap->decided_by));
  if (ap->message[0])
    json_object_set_new(doc, "message", json_string(ap->message));
  if (with_tunnel && ap->tunnel)
    json_object_set(doc, "tunnel", ap->tunnel);
  return doc;
}

int approvals_is_admin(const char *admins, const char *subject)
{
  size_t n = strlen(subject);
  for (const char *p = admins ? admins : ""; *p;) {
    p += strspn(p, " ,");
    size_t len = strcspn(p, " ,");
    if (len && len == n && !strncmp(p, subject, n))
      return 1;
    p += len;
  }
  return 0;
}
