/* What the SQLite store's files share (store_sqlite.c opens the database
 * and keeps leases, the audit trail and device keys; store_users.c keeps
 * users). */
#ifndef WEFT_TUNNEL_STORE_SQLITE_INTERNAL_H
#define WEFT_TUNNEL_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "tunnel/store.h"

struct sqlite_store {
  struct store base;
  sqlite3 *db;
};

struct sqlite_store *store_sqlite__impl(struct store *s);
/* Logs what failed with SQLite's message; returns WEFT_EIO. */
int store_sqlite__fail(struct sqlite_store *st, const char *what);
int store_sqlite__prepare(struct sqlite_store *st, const char *sql,
                          sqlite3_stmt **stmt);
/* store_sqlite__prepare, with id bound as the first parameter (text). */
int store_sqlite__prepare_with_id(struct sqlite_store *st, const char *sql,
                                  const char *id, sqlite3_stmt **stmt);
/* Steps a statement that returns no rows and finalizes it: how many rows
 * it changed, or a negative code: on_constraint where it broke a
 * constraint (0: that is a failure like any other), else WEFT_EIO, logged
 * naming what. */
int store_sqlite__step_changes(struct sqlite_store *st, sqlite3_stmt *stmt,
                               int on_constraint, const char *what);
/* Runs a statement with one text parameter; how many rows it changed,
 * or a negative code. */
int store_sqlite__run_with_id(struct sqlite_store *st, const char *sql,
                              const char *id, const char *what);

/* store_users.c */
int store_sqlite__user_add(struct store *s, const struct store_user *u);
int store_sqlite__user_by_key(struct store *s, const char *key_id,
                              struct store_user *out);
int store_sqlite__user_get(struct store *s, const char *name,
                           struct store_user *out);
int store_sqlite__user_each(struct store *s,
                            int (*cb)(void *arg, const struct store_user *u),
                            void *arg);
int store_sqlite__user_remove(struct store *s, const char *name);
int store_sqlite__user_set_key(struct store *s, const char *name,
                               const char *key_id,
                               const uint8_t key_hash[32], int64_t at);

/* store_user_signin.c */
int store_sqlite__user_signin_get(struct store *s, const char *name,
                                  struct store_user_signin *out);
int store_sqlite__user_set_password(struct store *s, const char *name,
                                    const char *hash);
int store_sqlite__user_rehash_password(struct store *s, const char *name,
                                       const char *old_hash,
                                       const char *new_hash);
int store_sqlite__user_set_totp(struct store *s, const char *name,
                                const char *secret);
int store_sqlite__user_totp_spend(struct store *s, const char *name,
                                  int64_t step);

/* store_enrollments.c */
int store_sqlite__enrollment_put(struct store *s, const char *device_id,
                                 const uint8_t token_hash[32],
                                 const char *class_name, int64_t expires_at);
int store_sqlite__enrollment_take(struct store *s, const char *device_id,
                                  const uint8_t token_hash[32], char class_name[64],
                                  int64_t *expires_at);

/* store_device_acl.c */
int store_sqlite__device_acl_put(struct store *s, const char *device_id,
                                 const char *const text[ACL_OV_COUNT],
                                 int64_t at);
int store_sqlite__device_acl_each(
    struct store *s,
    int (*cb)(void *arg, const char *device_id,
              const char *const text[ACL_OV_COUNT]),
    void *arg);

#endif
