/* Session JWTs (issued at login, 30 minutes, for the control API) and
 * orchestration tokens (issued with a tunnel, minutes, for its transport to
 * admit the device's session). Different keys, audiences and typ claims, so
 * one can never pass as the other; orchestration tokens are single use. Both
 * keys derive (HKDF-SHA256) from the server's own 256-bit key, never from a
 * connection secret. */
#ifndef WEFT_CORE_TOKENS_H
#define WEFT_CORE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_TTL_S (30 * 60)
#define ORCHESTRATION_TTL_S (5 * 60)
#define TOKENS_USED_MAX 65536

struct used_jti {
  char jti[24];
  int64_t expires;
};

struct tokens {
  uint8_t session_key[32];
  uint8_t orchestration_key[32];
  struct used_jti *used; /* orchestration tokens already spent */
  size_t used_count;
};

struct orchestration_claims {
  char device_id[64];
  char tunnel_id[32];
  char transport[32];
  char proto[4];
  uint16_t port;
  char hostname[254];
  int64_t expires_at;
};

int tokens_init(struct tokens *t, const uint8_t server_key[32]);
void tokens_free(struct tokens *t);

/* via: the address the client reached when per-IP secrets are on (the
 * session is then only good there), else NULL. *out is malloc'd. */
int tokens_issue_session(const struct tokens *t, const char *subject,
                         const char *via, int64_t now, char **out);
/* 0 and the subject, or a jwt_error. */
int tokens_verify_session(const struct tokens *t, const char *token,
                          size_t len, const char *via, int64_t now,
                          char *subject, size_t subject_len);

int tokens_issue_orchestration(const struct tokens *t,
                               const struct orchestration_claims *c,
                               int64_t now, char **out);
/* Verifies a token for `transport`; with consume, marks it spent so it
 * can never be used again. 0, or a jwt_error (JWT_ECLAIMS for a token of
 * another transport or one already spent). */
int tokens_verify_orchestration(struct tokens *t, const char *token,
                                size_t len, const char *transport, int64_t now,
                                bool consume, struct orchestration_claims *out);

#endif
