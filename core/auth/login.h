/* The login: a mutual challenge in which the connection secret never crosses
 * the wire (docs/security.md has the threat model and every message).
 *
 *   1. client -> server   Nc (32 random bytes)
 *   2. server -> client   Ns, proof = AES-256-GCM(K_s2c, "server-" || Ns)
 *   3. client             opens proof: the server knows the secret
 *      client -> server   Ns, answer = AES-256-GCM(K_c2s, "client-" || Nc)
 *   4. server             opens answer: the client knows the secret
 *
 * K_s2c and K_c2s are HKDF-SHA256(secret, salt = Nc || Ns, info = a label
 * per direction), so each login has its own keys. The associated data
 * carries the protocol version, the role, both nonces and the TLS channel
 * binding (RFC 9266 tls-exporter) when the control connection is TLS.
 * Server nonces are single use, expire after 30 s and live in a bounded
 * table; failures are rate-limited per source with backoff.
 *
 * A source is an IPv4 address or an IPv6 /64 (one host may use any
 * address of its /64). A source holds at most LOGIN_PENDING_PER_SOURCE
 * challenges, an IPv6 /48 at most LOGIN_PENDING_PER_NET48 (more wait:
 * a fleet behind one NAT logs in at once); a challenge that expires
 * unanswered, or is evicted, counts as a failure of its source. When the table is full, a new challenge evicts the oldest of
 * the source holding the most: a client that answers in time is never
 * the one evicted while others hold more. */
#ifndef WEFT_CORE_LOGIN_H
#define WEFT_CORE_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/crypto.h"
#include "auth/secret.h"

#define LOGIN_VERSION 1
#define LOGIN_NONCE_LEN 32
#define LOGIN_NONCE_TTL_MS 30000
#define LOGIN_PENDING_MAX 1024
#define LOGIN_PENDING_PER_SOURCE 64
#define LOGIN_PENDING_PER_NET48 256
#define LOGIN_RATE_ENTRIES 4096
#define LOGIN_FREE_FAILURES 5          /* failures before backoff starts */
#define LOGIN_BACKOFF_MAX_MS (15 * 60 * 1000)
#define LOGIN_BINDING_MAX 64
/* iv || ciphertext of "server-"/"client-" + 32-byte nonce || tag */
#define LOGIN_SEALED_LEN (GCM_IV_LEN + 7 + LOGIN_NONCE_LEN + GCM_TAG_LEN)

enum login_result {
  LOGIN_OK = 0,
  LOGIN_DENIED = -1,     /* one answer for every authentication failure */
  LOGIN_RATE_LIMITED = -2,
};

struct login_pending {
  uint8_t server_nonce[LOGIN_NONCE_LEN];
  uint8_t client_nonce[LOGIN_NONCE_LEN];
  uint8_t binding[LOGIN_BINDING_MAX];
  size_t binding_len;
  uint64_t expires_ms;
  char peer_ip[46];
  int secret_id; /* which secret this login uses (per-IP secrets) */
  uint16_t rate;     /* its source's entry in rates[] */
  bool live;
};

/* A source's failures and the challenges it holds. An entry holding
 * challenges is never reused for another source. */
struct login_rate {
  uint8_t source[16]; /* addr_source_key of the address */
  bool used;
  unsigned failures;
  unsigned pending;
  uint64_t blocked_until_ms;
  uint64_t last_ms;
};

struct login_server {
  struct login_pending pending[LOGIN_PENDING_MAX];
  struct login_rate rates[LOGIN_RATE_ENTRIES];
};

void login_server_init(struct login_server *ls);

/* Step 2. On LOGIN_OK fills server_nonce and proof (LOGIN_SEALED_LEN).
 * *retry_after_ms is set with LOGIN_RATE_LIMITED. */
int login_server_challenge(struct login_server *ls, const struct secret *secret,
                           int secret_id, const char *peer_ip,
                           const uint8_t client_nonce[LOGIN_NONCE_LEN],
                           const uint8_t *binding, size_t binding_len,
                           uint8_t server_nonce[LOGIN_NONCE_LEN],
                           uint8_t proof[LOGIN_SEALED_LEN],
                           uint64_t *retry_after_ms);

/* Step 4. The nonce is consumed whatever the outcome. secret is the secret
 * of the address this request reached and secret_id its id: an answer made
 * with another address's secret fails. On LOGIN_OK, client_nonce (unless
 * NULL) receives the client's nonce, for the device key's signature. */
int login_server_verify(struct login_server *ls, const struct secret *secret,
                        int secret_id, const char *peer_ip,
                        const uint8_t server_nonce[LOGIN_NONCE_LEN],
                        const uint8_t *answer, size_t answer_len,
                        const uint8_t *binding, size_t binding_len,
                        uint8_t client_nonce[LOGIN_NONCE_LEN],
                        uint64_t *retry_after_ms);

/* Step 4 of a device that logs in with its key alone (an enrolled device,
 * which holds no secret): consumes the challenge server_nonce names if it
 * was made for this address and TLS channel (a channel is required), and
 * gives its client nonce, for the caller to check the device's signature
 * over both. The caller reports a bad signature with
 * login_server_note_failure, and a good one is a success. */
int login_server_take(struct login_server *ls, const char *peer_ip,
                      const uint8_t server_nonce[LOGIN_NONCE_LEN],
                      const uint8_t *binding, size_t binding_len,
                      uint8_t client_nonce[LOGIN_NONCE_LEN],
                      uint64_t *retry_after_ms);

/* For requests refused before they reach the steps above (malformed
 * ones): they count as failures too. */
void login_server_note_failure(struct login_server *ls, const char *peer_ip);
/* A login that succeeded outside login_server_verify (login_server_take). */
void login_server_note_success(struct login_server *ls, const char *peer_ip);
/* True (with the wait) if peer_ip must wait before trying again. */
bool login_server_blocked(struct login_server *ls, const char *peer_ip,
                          uint64_t *retry_after_ms);

/* Client, step 3: 0 if the proof shows the server knows the secret. */
int login_client_check_proof(const struct secret *secret,
                             const uint8_t client_nonce[LOGIN_NONCE_LEN],
                             const uint8_t server_nonce[LOGIN_NONCE_LEN],
                             const uint8_t *binding, size_t binding_len,
                             const uint8_t *proof, size_t proof_len);
/* Client, step 3: the answer to send. 0 or -1. */
int login_client_answer(const struct secret *secret,
                        const uint8_t client_nonce[LOGIN_NONCE_LEN],
                        const uint8_t server_nonce[LOGIN_NONCE_LEN],
                        const uint8_t *binding, size_t binding_len,
                        uint8_t answer[LOGIN_SEALED_LEN]);

#endif
