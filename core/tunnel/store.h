/* The store: devices' leases, freed addresses in quarantine, and the audit
 * trail. One interface, so a Redis backend can stand where SQLite does for
 * several servers sharing one registry. Every write is durable when the
 * call returns. Calls return 0, or a negative code from <weft/errors.h>
 * (WEFT_EEXIST when a unique claim is already taken). */
#ifndef WEFT_CORE_STORE_H
#define WEFT_CORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/acl_overrides.h"
#include "base/prom.h"
#include "tunnel/lease_types.h"

struct store;

struct audit_event {
  int64_t seq;
  int64_t at;
  const char *event;     /* created, deleted, expired, idle-timeout, ... */
  const char *tunnel_id;
  const char *device_id;
  const char *detail;
  /* Who did it: a device id or an administrator's, "server" for what the
   * server does by itself, NULL when nobody proved who they are (a
   * refused login). */
  const char *actor;
};

/* Which events audit_each returns: each field set narrows it. */
struct audit_filter {
  const char *device_id;
  const char *actor;
  const char *event;
  int64_t since;         /* at >= since; 0: any */
};

/* A person who calls the API with a key: what the store keeps. */
struct store_user {
  char name[64];
  char role[16];          /* "admin", "operator" or "viewer" */
  char key_id[17];        /* the key's public id (auth/api_key.h) */
  uint8_t key_hash[32];   /* SHA-256 of its secret part */
  int64_t created_at;
  int64_t key_made_at;
};

/* How a user signs in to the console besides their key (auth/password.h,
 * auth/totp.h): "" where not set. */
struct store_user_signin {
  char password_hash[128]; /* Argon2id, crypto_pwhash_str's text */
  int64_t password_gen;    /* one more at each change: sessions end */
  char totp_secret[33];    /* base32 */
  int64_t totp_last_step;  /* the newest step whose code was used */
};

struct store_ops {
  const char *name;
  /* Inserts a lease; WEFT_EEXIST if its tunnel id, device, address, port
   * or host name is already held. */
  int (*lease_insert)(struct store *s, const struct lease *l);
  /* Deletes a lease and quarantines its address until quarantine_until, in
   * one transaction. */
  int (*lease_delete)(struct store *s, const char *tunnel_id, uint32_t vip,
                      int64_t quarantine_until);
  int (*lease_set_activity)(struct store *s, const char *tunnel_id,
                            int64_t last_activity);
  /* Calls cb for every lease; cb's lease is valid during the call. */
  /* A lease renewed: its new expiry (wall-clock seconds). */
  int (*lease_set_expiry)(struct store *s, const char *tunnel_id,
                          int64_t expires_at);
  int (*lease_each)(struct store *s,
                    int (*cb)(void *arg, const struct lease *l), void *arg);
  int (*quarantine_each)(struct store *s,
                         int (*cb)(void *arg, uint32_t vip, int64_t until),
                         void *arg);
  int (*quarantine_drop)(struct store *s, uint32_t vip);
  int (*audit)(struct store *s, const struct audit_event *e);
  /* The newest `limit` events the filter lets through, newest first. */
  int (*audit_each)(struct store *s, const struct audit_filter *f,
                    size_t limit,
                    int (*cb)(void *arg, const struct audit_event *e),
                    void *arg);
  /* The newest event of one tunnel, if any (cb is not called when there
   * is none). */
  int (*audit_last)(struct store *s, const char *tunnel_id,
                    int (*cb)(void *arg, const struct audit_event *e),
                    void *arg);
  /* A device's key (trust on first use, auth/device_key.h): the public
   * key bound to device_id, or WEFT_ENOENT when none is. */
  int (*device_key_get)(struct store *s, const char *device_id,
                        uint8_t public_key[32], int64_t *bound_at);
  /* Binds a key to a device that has none; WEFT_EEXIST if it has one. */
  int (*device_key_bind)(struct store *s, const char *device_id,
                         const uint8_t public_key[32], int64_t at);
  /* Replaces the key bound to device_id, if it is still old_key (a
   * rotation racing another is refused): 0, or WEFT_ENOENT. */
  int (*device_key_replace)(struct store *s, const char *device_id,
                            const uint8_t old_key[32],
                            const uint8_t new_key[32], int64_t at);
  /* Every device with a key, in id order; cb's pointers are valid during
   * the call. */
  int (*device_key_each)(struct store *s,
                         int (*cb)(void *arg, const char *device_id,
                                   const uint8_t public_key[32],
                                   int64_t bound_at),
                         void *arg);
  /* Unbinds a device's key and lifts its revocation; WEFT_ENOENT if it
   * had neither. */
  int (*device_key_forget)(struct store *s, const char *device_id);
  /* Revokes a device id: no login as it from then on, whatever it shows
   * (until device_key_forget). 0, or WEFT_EEXIST if it was already. */
  int (*device_revoke)(struct store *s, const char *device_id, int64_t at);
  /* 1 when the device id is revoked, 0 when not, or a negative code. */
  int (*device_revoked)(struct store *s, const char *device_id);
  /* People with API keys (server/users.h): a new user, WEFT_EEXIST if
   * the name is taken; one by its key's id or by name, WEFT_ENOENT if
   * none; all in name order; removed, or given a new key (WEFT_ENOENT if
   * there is no such user). */
  int (*user_add)(struct store *s, const struct store_user *u);
  int (*user_by_key)(struct store *s, const char *key_id,
                     struct store_user *out);
  int (*user_get)(struct store *s, const char *name, struct store_user *out);
  int (*user_each)(struct store *s,
                   int (*cb)(void *arg, const struct store_user *u),
                   void *arg);
  int (*user_remove)(struct store *s, const char *name);
  int (*user_set_key)(struct store *s, const char *name, const char *key_id,
                      const uint8_t key_hash[32], int64_t at);
  /* A user's sign-in secrets (all "" when none is set), WEFT_ENOENT
   * when there is no such user; a new password hash; the same password
   * hashed again, only if the hash is still old_hash (its generation
   * stays); a TOTP secret ("" turns it off; the used steps are
   * forgotten); a TOTP step used, only if newer than the last one used
   * (else WEFT_EEXIST). Writes: WEFT_ENOENT when there is no such user. */
  int (*user_signin_get)(struct store *s, const char *name,
                         struct store_user_signin *out);
  int (*user_set_password)(struct store *s, const char *name,
                           const char *hash);
  int (*user_rehash_password)(struct store *s, const char *name,
                              const char *old_hash, const char *new_hash);
  int (*user_set_totp)(struct store *s, const char *name,
                       const char *secret);
  int (*user_totp_spend)(struct store *s, const char *name, int64_t step);
  /* What the API set of a device's ACL (auth/acl_overrides.h): text[i]
   * per field, NULL where not set; all NULL forgets the device's row. */
  int (*device_acl_put)(struct store *s, const char *device_id,
                        const char *const text[ACL_OV_COUNT], int64_t at);
  int (*device_acl_each)(struct store *s,
                         int (*cb)(void *arg, const char *device_id,
                                   const char *const text[ACL_OV_COUNT]),
                         void *arg);
  /* One-time enrollments (auth/enrollment.h): made by an administrator
   * for a device id (replacing one not yet used), and taken once by
   * whoever shows the token whose hash it keeps: its class ("" for none)
   * and expiry, and it is gone. WEFT_ENOENT when the id has none, or
   * another token (which leaves it in place). */
  int (*enrollment_put)(struct store *s, const char *device_id,
                        const uint8_t token_hash[32], const char *class_name,
                        int64_t expires_at);
  int (*enrollment_take)(struct store *s, const char *device_id,
                         const uint8_t token_hash[32], char class_name[64],
                         int64_t *expires_at);
  /* Bytes the backend holds in memory now (its page cache, bounded). */
  int64_t (*memory_bytes)(struct store *s);
  void (*close)(struct store *s);
};

struct store {
  const struct store_ops *ops;
  /* Told of each audit record once it is kept, or NULL: the server's
   * event stream (server/events.c) and OpenTelemetry export, which the
   * store cannot call. */
  void (*on_audit)(void *arg, const struct audit_event *e);
  void *on_audit_arg;
  /* How long each statement took, for /metrics (the backend fills it). */
  struct prom_histogram latency;
};

/* Keeps an audit record and tells on_audit: every record is written
 * this way, so whoever watches the trail misses none. */
static inline int store_audit(struct store *s, const struct audit_event *e)
{
  int rc = s->ops->audit(s, e);
  if (rc == 0 && s->on_audit)
    s->on_audit(s->on_audit_arg, e);
  return rc;
}

/* Opens (creating if needed) the SQLite store at path. */
int store_open_sqlite(const char *path, struct store **out, char *err,
                      size_t errlen);

#endif
