/* Tunnels that wait for an administrator (the support seed's consent
 * flow): a device asks with await_approval, an administrator approves or
 * denies, and only an approved request becomes a tunnel (lease, transport,
 * token), exactly as a direct create would. Requests live in memory only:
 * a server restart forgets them, and the device is told to ask again, so
 * nothing can be approved by a restart. */
#ifndef WEFT_CORE_APPROVALS_H
#define WEFT_CORE_APPROVALS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPROVALS_MAX 256      /* waiting or decided, in all */
#define APPROVAL_WAIT_S 600    /* a request nobody decides on expires */
#define APPROVAL_KEEP_S 300    /* a decision waits this long for its device */

enum approval_state {
  APPROVAL_PENDING,
  APPROVAL_APPROVED, /* the tunnel exists: `tunnel` holds the create reply */
  APPROVAL_DENIED,
  APPROVAL_FAILED,   /* approved, but the server could not open it */
};

struct approval {
  char id[24];               /* "a" + 16 hex */
  char device_id[64];
  /* What an administrator needs to trust the request: where it came from,
   * the device's key (auth/device_key.h; "" when it has none), and a
   * short code derived from the request that the device shows too, to be
   * read back over the phone. */
  char from[46];
  char key_fingerprint[40];
  char code[8];              /* "123-456" */
  json_t *request;           /* the create body, without await_approval */
  /* A new device's first key, waiting to be bound ([server] enrollment =
   * approve) instead of a tunnel: approving binds it. */
  bool enrollment;
  uint8_t device_key[32];
  int64_t created, decided_at;
  enum approval_state state;
  char decided_by[72];  /* an actor (server/authz.h) */
  char message[640];         /* denied or failed: why */
  json_t *tunnel;            /* approved: what a 201 create answers */
  struct approval *next;
};

struct approvals {
  struct approval *head;
  size_t count;
};

/* A new pending request (takes a reference to request) from address
 * `from`, by a device whose key has fingerprint key_fp ("" for none).
 * NULL with why: too many, or the device already waits for one. */
struct approval *approvals_add(struct approvals *a, const char *device_id,
                               json_t *request, const char *from,
                               const char *key_fp, int64_t now, char *why,
                               size_t whylen);
/* A new device asking to have its key bound (enrollment = approve): the
 * one it already has for this key, whatever its state, or a new pending
 * one. NULL with why, as approvals_add. */
struct approval *approvals_enrollment(struct approvals *a,
                                      const char *device_id,
                                      const uint8_t key[32], const char *from,
                                      const char *key_fp, int64_t now,
                                      char *why, size_t whylen);
struct approval *approvals_find(struct approvals *a, const char *id);
/* Ends what waited too long (pending: expired; decided: never collected). */
void approvals_expire(struct approvals *a, int64_t now);
void approvals_remove(struct approvals *a, struct approval *ap);
void approvals_free(struct approvals *a);

const char *approval_state_name(enum approval_state s);
/* The request as an administrator or its device sees it; with_tunnel adds
 * the tunnel (token included) for its device. */
json_t *approval_to_json(const struct approval *ap, int64_t now,
                         int with_tunnel);

/* Is subject in the comma-separated list of administrators? */
int approvals_is_admin(const char *admins, const char *subject);

#endif
