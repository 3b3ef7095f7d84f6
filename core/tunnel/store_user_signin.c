/* The SQLite store's console sign-in secrets of users: a password hash
 * and a TOTP secret, in their own table that follows the users table
 * (a removed user's row goes with them). */
#include <stdio.h>
#include <string.h>

#include <weft/errors.h>

#include "tunnel/store_sqlite_internal.h"

int store_sqlite__user_signin_get(struct store *s, const char *name,
                                  struct store_user_signin *out)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare_with_id(
      st,
      "SELECT i.password_hash, i.password_gen, i.totp_secret, "
      "i.totp_last_step FROM users u LEFT JOIN user_signin i "
      "ON i.name = u.name WHERE u.name = ?",
      name, &stmt);
  if (rc)
    return rc;
  memset(out, 0, sizeof *out);
  int step = sqlite3_step(stmt);
  rc = WEFT_ENOENT;
  if (step == SQLITE_ROW) {
    const char *hash = (const char *)sqlite3_column_text(stmt, 0);
    const char *totp = (const char *)sqlite3_column_text(stmt, 2);
    if ((hash && strlen(hash) >= sizeof out->password_hash) ||
        (totp && strlen(totp) >= sizeof out->totp_secret)) {
      rc = WEFT_EIO; /* a row written by something else */
    } else {
      snprintf(out->password_hash, sizeof out->password_hash, "%s",
               hash ? hash : "");
      snprintf(out->totp_secret, sizeof out->totp_secret, "%s",
               totp ? totp : "");
      out->password_gen = sqlite3_column_int64(stmt, 1);
      out->totp_last_step = sqlite3_column_int64(stmt, 3);
      rc = 0;
    }
  } else if (step != SQLITE_DONE) {
    rc = store_sqlite__fail(st, "read a user's sign-in");
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* Runs an upsert or update of the user's row (text parameters, name
 * first); 0, WEFT_ENOENT when no user (or row) is there to change. */
static int write_row(struct store *s, const char *sql, const char *name,
                     const char *a, const char *b, const char *what)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare_with_id(st, sql, name, &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 2, a, -1, SQLITE_TRANSIENT);
  if (b)
    sqlite3_bind_text(stmt, 3, b, -1, SQLITE_TRANSIENT);
  /* A broken constraint: the users row it refers to is gone. */
  int n = store_sqlite__step_changes(st, stmt, WEFT_ENOENT, what);
  return n < 0 ? n : n ? 0 : WEFT_ENOENT;
}

int store_sqlite__user_set_password(struct store *s, const char *name,
                                    const char *hash)
{
  return write_row(s,
                   "INSERT INTO user_signin(name, password_hash, "
                   "password_gen) VALUES(?1, ?2, 1) ON CONFLICT(name) DO "
                   "UPDATE SET password_hash = ?2, "
                   "password_gen = password_gen + 1",
                   name, hash, NULL, "set a user's password");
}

int store_sqlite__user_rehash_password(struct store *s, const char *name,
                                       const char *old_hash,
                                       const char *new_hash)
{
  /* Only over the hash that was checked: a change meanwhile wins. */
  return write_row(s,
                   "UPDATE user_signin SET password_hash = ?2 "
                   "WHERE name = ?1 AND password_hash = ?3",
                   name, new_hash, old_hash, "rehash a user's password");
}

int store_sqlite__user_set_totp(struct store *s, const char *name,
                                const char *secret)
{
  return write_row(s,
                   "INSERT INTO user_signin(name, totp_secret) "
                   "VALUES(?1, ?2) ON CONFLICT(name) DO UPDATE SET "
                   "totp_secret = ?2, totp_last_step = 0",
                   name, secret, NULL, "set a user's TOTP secret");
}

int store_sqlite__user_totp_spend(struct store *s, const char *name,
                                  int64_t step)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare_with_id(
      st,
      "UPDATE user_signin SET totp_last_step = ?2 "
      "WHERE name = ?1 AND totp_last_step < ?2",
      name, &stmt);
  if (rc)
    return rc;
  sqlite3_bind_int64(stmt, 2, step);
  int n = store_sqlite__step_changes(st, stmt, 0, "spend a TOTP code");
  return n < 0 ? n : n ? 0 : WEFT_EEXIST;
}
