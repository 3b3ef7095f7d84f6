#include "auth/login.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/netlist.h"

enum role { ROLE_SERVER, ROLE_CLIENT };

static const char *const key_labels[] = {
    [ROLE_SERVER] = "weft/1 login key server-to-client",
    [ROLE_CLIENT] = "weft/1 login key client-to-server",
};
static const char *const aad_labels[] = {
    [ROLE_SERVER] = "weft/1|login|server-proof|",
    [ROLE_CLIENT] = "weft/1|login|client-answer|",
};
static const char *const plain_prefix[] = {
    [ROLE_SERVER] = "server-",
    [ROLE_CLIENT] = "client-",
};

/* The key, AAD and expected plaintext of one direction of one login. */
struct sealing {
  uint8_t key[32];
  uint8_t aad[64 + 2 * LOGIN_NONCE_LEN + 1 + LOGIN_BINDING_MAX];
  size_t aad_len;
  uint8_t plain[7 + LOGIN_NONCE_LEN];
};

static int sealing_init(struct sealing *s, enum role role,
                        const struct secret *secret, const uint8_t *nc,
                        const uint8_t *ns, const uint8_t *binding,
                        size_t binding_len)
{
  if (binding_len > LOGIN_BINDING_MAX)
    return -1;
  uint8_t salt[2 * LOGIN_NONCE_LEN];
  memcpy(salt, nc, LOGIN_NONCE_LEN);
  memcpy(salt + LOGIN_NONCE_LEN, ns, LOGIN_NONCE_LEN);
  const char *label = key_labels[role];
  if (crypto_hkdf_sha256(secret->key, sizeof secret->key, salt, sizeof salt,
                         (const uint8_t *)label, strlen(label), s->key,
                         sizeof s->key) != 0)
    return -1;
  /* AAD = label || Nc || Ns || len(binding) || binding */
  size_t n = strlen(aad_labels[role]);
  memcpy(s->aad, aad_labels[role], n);
  memcpy(s->aad + n, nc, LOGIN_NONCE_LEN);
  n += LOGIN_NONCE_LEN;
  memcpy(s->aad + n, ns, LOGIN_NONCE_LEN);
  n += LOGIN_NONCE_LEN;
  s->aad[n++] = (uint8_t)binding_len;
  if (binding_len)
    memcpy(s->aad + n, binding, binding_len);
  s->aad_len = n + binding_len;
  /* The server proves itself on its own nonce, the client on its own. */
  memcpy(s->plain, plain_prefix[role], 7);
  memcpy(s->plain + 7, role == ROLE_SERVER ? ns : nc, LOGIN_NONCE_LEN);
  return 0;
}

static void sealing_wipe(struct sealing *s) { crypto_wipe(s, sizeof *s); }

static int seal(enum role role, const struct secret *secret, const uint8_t *nc,
                const uint8_t *ns, const uint8_t *binding, size_t binding_len,
                uint8_t out[LOGIN_SEALED_LEN])
{
  struct sealing s;
  int rc = -1;
  if (sealing_init(&s, role, secret, nc, ns, binding, binding_len) == 0) {
    crypto_random(out, GCM_IV_LEN);
    rc = crypto_gcm_seal(s.key, sizeof s.key, out, GCM_IV_LEN, s.aad,
                         s.aad_len, s.plain, sizeof s.plain, out + GCM_IV_LEN,
                         out + GCM_IV_LEN + sizeof s.plain);
  }
  sealing_wipe(&s);
  return rc;
}

/* 0 if sealed is the right message of `role` for this login. */
static int unseal(enum role role, const struct secret *secret,
                  const uint8_t *nc, const uint8_t *ns, const uint8_t *binding,
                  size_t binding_len, const uint8_t *sealed, size_t len)
{
  struct sealing s;
  uint8_t plain[sizeof s.plain];
  int rc = -1;
  if (len == LOGIN_SEALED_LEN &&
      sealing_init(&s, role, secret, nc, ns, binding, binding_len) == 0 &&
      crypto_gcm_open(s.key, sizeof s.key, sealed, GCM_IV_LEN, s.aad,
                      s.aad_len, sealed + GCM_IV_LEN, sizeof plain,
                      sealed + GCM_IV_LEN + sizeof plain, GCM_TAG_LEN,
                      plain) == 0 &&
      crypto_equal(plain, s.plain, sizeof plain))
    rc = 0;
  sealing_wipe(&s);
  crypto_wipe(plain, sizeof plain);
  return rc;
}

void login_server_init(struct login_server *ls) { memset(ls, 0, sizeof *ls); }

/* ---- sources ---- */

/* A slot names its source's entry in 16 bits, and the entries holding
 * challenges never take them all (rate_find always finds a free one). */
_Static_assert(LOGIN_RATE_ENTRIES <= UINT16_MAX + 1 &&
                   LOGIN_RATE_ENTRIES > LOGIN_PENDING_MAX,
               "rate entries: indexable, and more than the challenges");

/* ---- rate limiting ---- */

static struct login_rate *rate_find(struct login_server *ls,
                                    const uint8_t src[16], bool create,
                                    uint64_t now)
{
  struct login_rate *oldest = NULL;
  for (size_t i = 0; i < LOGIN_RATE_ENTRIES; i++) {
    struct login_rate *r = &ls->rates[i];
    if (r->used && !memcmp(r->source, src, sizeof r->source))
      return r;
    if (!r->pending && (!oldest || !r->used ||
                        (oldest->used && r->last_ms < oldest->last_ms)))
      oldest = r;
  }
  /* Entries holding challenges number at most LOGIN_PENDING_MAX. */
  assert(oldest);
  if (!create)
    return NULL;
  /* Reuse the least recently active entry: a blocked source is only
   * forgotten when 4096 other sources have failed since. */
  memset(oldest, 0, sizeof *oldest);
  memcpy(oldest->source, src, sizeof oldest->source);
  oldest->used = true;
  oldest->last_ms = now;
  return oldest;
}

static bool entry_blocked(const struct login_rate *r, uint64_t now,
                          uint64_t *retry_after_ms)
{
  if (!r || r->blocked_until_ms <= now)
    return false;
  if (retry_after_ms)
    *retry_after_ms = r->blocked_until_ms - now;
  return true;
}

static bool rate_blocked(struct login_server *ls, const char *ip, uint64_t now,
                         uint64_t *retry_after_ms)
{
  uint8_t src[16];
  addr_source_key(ip, src);
  return entry_blocked(rate_find(ls, src, false, now), now, retry_after_ms);
}

static void entry_failure(struct login_rate *r, uint64_t now)
{
  r->last_ms = now;
  if (++r->failures <= LOGIN_FREE_FAILURES)
    return;
  unsigned shift = r->failures - LOGIN_FREE_FAILURES - 1;
  uint64_t backoff = shift >= 20 ? LOGIN_BACKOFF_MAX_MS : 1000ull << shift;
  if (backoff > LOGIN_BACKOFF_MAX_MS)
    backoff = LOGIN_BACKOFF_MAX_MS;
  r->blocked_until_ms = now + backoff;
}

static void rate_failure(struct login_server *ls, const char *ip, uint64_t now)
{
  uint8_t src[16];
  addr_source_key(ip, src);
  entry_failure(rate_find(ls, src, true, now), now);
}

static void rate_success(struct login_server *ls, const char *ip, uint64_t now)
{
  uint8_t src[16];
  addr_source_key(ip, src);
  struct login_rate *r = rate_find(ls, src, false, now);
  if (r) {
    r->failures = 0;
    r->blocked_until_ms = 0;
    r->last_ms = now;
  }
}

void login_server_note_success(struct login_server *ls, const char *peer_ip)
{
  rate_success(ls, peer_ip, clock_mono_ms());
}

void login_server_note_failure(struct login_server *ls, const char *peer_ip)
{
  rate_failure(ls, peer_ip, clock_mono_ms());
}

bool login_server_blocked(struct login_server *ls, const char *peer_ip,
                          uint64_t *retry_after_ms)
{
  return rate_blocked(ls, peer_ip, clock_mono_ms(), retry_after_ms);
}

/* ---- the table of challenges ---- */

/* Frees a slot; one that was never answered counts against its source. */
static void pending_end(struct login_server *ls, struct login_pending *p,
                        bool unanswered, uint64_t now)
{
  assert(p->live && p->rate < LOGIN_RATE_ENTRIES);
  struct login_rate *r = &ls->rates[p->rate];
  assert(r->pending > 0);
  r->pending--;
  if (unanswered)
    entry_failure(r, now);
  memset(p, 0, sizeof *p);
}

/* The full table's victim: the oldest challenge of the source holding
 * the most. */
static struct login_pending *evictee(struct login_server *ls)
{
  struct login_pending *victim = NULL;
  unsigned most = 0;
  for (size_t i = 0; i < LOGIN_PENDING_MAX; i++) {
    struct login_pending *p = &ls->pending[i];
    assert(p->live); /* only a full table has a victim */
    unsigned held = ls->rates[p->rate].pending;
    if (!victim || held > most ||
        (held == most && p->expires_ms < victim->expires_ms)) {
      victim = p;
      most = held;
    }
  }
  return victim;
}

/* ---- the server's steps ---- */

int login_server_challenge(struct login_server *ls, const struct secret *secret,
                           int secret_id, const char *peer_ip,
                           const uint8_t client_nonce[LOGIN_NONCE_LEN],
                           const uint8_t *binding, size_t binding_len,
                           uint8_t server_nonce[LOGIN_NONCE_LEN],
                           uint8_t proof[LOGIN_SEALED_LEN],
                           uint64_t *retry_after_ms)
{
  uint64_t now = clock_mono_ms();
  if (binding_len > LOGIN_BINDING_MAX)
    return LOGIN_DENIED;
  uint8_t src[16];
  addr_source_key(peer_ip, src);
  bool v6 = !addr_is_v4(src);
  struct login_pending *slot = NULL;
  unsigned in_net48 = 0;
  for (size_t i = 0; i < LOGIN_PENDING_MAX; i++) {
    struct login_pending *p = &ls->pending[i];
    if (p->live && p->expires_ms <= now)
      pending_end(ls, p, true, now); /* expired unanswered */
    const uint8_t *held = ls->rates[p->rate].source;
    if (p->live && v6 && !addr_is_v4(held) && !memcmp(held, src, 6))
      in_net48++; /* the same IPv6 /48 */
    if (!p->live && !slot)
      slot = p;
  }
  struct login_rate *r = rate_find(ls, src, true, now);
  if (entry_blocked(r, now, retry_after_ms))
    return LOGIN_RATE_LIMITED;
  /* A source (or a /48) may hold only a few challenges, so it cannot
   * fill the table; what it holds ends within LOGIN_NONCE_TTL_MS. */
  if (r->pending >= LOGIN_PENDING_PER_SOURCE ||
      in_net48 >= LOGIN_PENDING_PER_NET48) {
    *retry_after_ms = 1000; /* a wait, not a failure: logins in flight */
    return LOGIN_RATE_LIMITED;
  }
  if (!slot) {
    slot = evictee(ls);
    pending_end(ls, slot, true, now);
  }
  assert(!slot->live);
  crypto_random(slot->server_nonce, LOGIN_NONCE_LEN);
  memcpy(slot->client_nonce, client_nonce, LOGIN_NONCE_LEN);
  if (binding_len)
    memcpy(slot->binding, binding, binding_len);
  slot->binding_len = binding_len;
  slot->expires_ms = now + LOGIN_NONCE_TTL_MS;
  slot->secret_id = secret_id;
  snprintf(slot->peer_ip, sizeof slot->peer_ip, "%s", peer_ip);
  if (seal(ROLE_SERVER, secret, client_nonce, slot->server_nonce, binding,
           binding_len, proof) != 0) {
    memset(slot, 0, sizeof *slot);
    return LOGIN_DENIED;
  }
  slot->rate = (uint16_t)(r - ls->rates);
  slot->live = true;
  r->pending++;
  r->last_ms = now;
  memcpy(server_nonce, slot->server_nonce, LOGIN_NONCE_LEN);
  return LOGIN_OK;
}

/* The live challenge a server nonce names, or NULL. */
static struct login_pending *find_pending(struct login_server *ls,
                                          const uint8_t *server_nonce)
{
  for (size_t i = 0; i < LOGIN_PENDING_MAX; i++) {
    struct login_pending *p = &ls->pending[i];
    if (p->live &&
        crypto_equal(p->server_nonce, server_nonce, LOGIN_NONCE_LEN))
      return p;
  }
  return NULL;
}

int login_server_verify(struct login_server *ls, const struct secret *secret,
                        int secret_id, const char *peer_ip,
                        const uint8_t server_nonce[LOGIN_NONCE_LEN],
                        const uint8_t *answer, size_t answer_len,
                        const uint8_t *binding, size_t binding_len,
                        uint8_t client_nonce[LOGIN_NONCE_LEN],
                        uint64_t *retry_after_ms)
{
  uint64_t now = clock_mono_ms();
  if (rate_blocked(ls, peer_ip, now, retry_after_ms))
    return LOGIN_RATE_LIMITED;
  struct login_pending *found = find_pending(ls, server_nonce);
  /* Every check runs, and an unknown nonce costs the same AEAD work, so the
   * outcome and its timing say nothing about which check failed. */
  static const struct login_pending nothing;
  const struct login_pending *p = found ? found : &nothing;
  bool ok = found != NULL;
  ok &= p->expires_ms > now;
  ok &= p->secret_id == secret_id;
  ok &= !strcmp(p->peer_ip, peer_ip);
  ok &= p->binding_len == binding_len &&
        crypto_equal(p->binding, binding,
                     binding_len <= LOGIN_BINDING_MAX ? binding_len : 0);
  ok &= unseal(ROLE_CLIENT, secret, p->client_nonce, server_nonce, binding,
               binding_len <= LOGIN_BINDING_MAX ? binding_len : 0, answer,
               answer_len) == 0;
  if (ok && client_nonce)
    memcpy(client_nonce, p->client_nonce, LOGIN_NONCE_LEN);
  if (found)
    pending_end(ls, found, false, now); /* single use, whatever happened */
  if (!ok) {
    rate_failure(ls, peer_ip, now);
    return LOGIN_DENIED;
  }
  rate_success(ls, peer_ip, now);
  return LOGIN_OK;
}

int login_server_take(struct login_server *ls, const char *peer_ip,
                      const uint8_t server_nonce[LOGIN_NONCE_LEN],
                      const uint8_t *binding, size_t binding_len,
                      uint8_t client_nonce[LOGIN_NONCE_LEN],
                      uint64_t *retry_after_ms)
{
  uint64_t now = clock_mono_ms();
  if (rate_blocked(ls, peer_ip, now, retry_after_ms))
    return LOGIN_RATE_LIMITED;
  struct login_pending *found = find_pending(ls, server_nonce);
  bool ok = found && found->expires_ms > now &&
            !strcmp(found->peer_ip, peer_ip) && binding_len > 0 &&
            found->binding_len == binding_len &&
            binding_len <= LOGIN_BINDING_MAX &&
            crypto_equal(found->binding, binding, binding_len);
  if (ok)
    memcpy(client_nonce, found->client_nonce, LOGIN_NONCE_LEN);
  if (found)
    pending_end(ls, found, false, now); /* single use, whatever happened */
  if (!ok) {
    rate_failure(ls, peer_ip, now);
    return LOGIN_DENIED;
  }
  return LOGIN_OK;
}

/* ---- the client's step ---- */

int login_client_check_proof(const struct secret *secret,
                             const uint8_t client_nonce[LOGIN_NONCE_LEN],
                             const uint8_t server_nonce[LOGIN_NONCE_LEN],
                             const uint8_t *binding, size_t binding_len,
                             const uint8_t *proof, size_t proof_len)
{
  return unseal(ROLE_SERVER, secret, client_nonce, server_nonce, binding,
                binding_len, proof, proof_len);
}

int login_client_answer(const struct secret *secret,
                        const uint8_t client_nonce[LOGIN_NONCE_LEN],
                        const uint8_t server_nonce[LOGIN_NONCE_LEN],
                        const uint8_t *binding, size_t binding_len,
                        uint8_t answer[LOGIN_SEALED_LEN])
{
  return seal(ROLE_CLIENT, secret, client_nonce, server_nonce, binding,
              binding_len, answer);
}
