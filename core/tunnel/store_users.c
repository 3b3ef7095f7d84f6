/* The SQLite store's users: people who call the API with a key. */
#include <stdio.h>
#include <string.h>

#include <weft/errors.h>

#include "tunnel/store_sqlite_internal.h"

#define USER_COLUMNS "name, role, key_id, key_hash, created_at, key_made_at"

/* One row into *u; -1 if the row is malformed. */
static int read_user(sqlite3_stmt *stmt, struct store_user *u)
{
  const char *name = (const char *)sqlite3_column_text(stmt, 0);
  const char *role = (const char *)sqlite3_column_text(stmt, 1);
  const char *key_id = (const char *)sqlite3_column_text(stmt, 2);
  if (!name || !role || !key_id || sqlite3_column_bytes(stmt, 3) != 32 ||
      strlen(name) >= sizeof u->name || strlen(role) >= sizeof u->role ||
      strlen(key_id) >= sizeof u->key_id)
    return -1;
  memset(u, 0, sizeof *u);
  snprintf(u->name, sizeof u->name, "%s", name);
  snprintf(u->role, sizeof u->role, "%s", role);
  snprintf(u->key_id, sizeof u->key_id, "%s", key_id);
  memcpy(u->key_hash, sqlite3_column_blob(stmt, 3), 32);
  u->created_at = sqlite3_column_int64(stmt, 4);
  u->key_made_at = sqlite3_column_int64(stmt, 5);
  return 0;
}

int store_sqlite__user_add(struct store *s, const struct store_user *u)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st, "INSERT INTO users(" USER_COLUMNS ") VALUES(?,?,?,?,?,?)", &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, u->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, u->role, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 3, u->key_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(stmt, 4, u->key_hash, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 5, u->created_at);
  sqlite3_bind_int64(stmt, 6, u->key_made_at);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step == SQLITE_CONSTRAINT)
    return WEFT_EEXIST;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "add a user");
}

/* The one user sql (with one parameter, value) finds. */
static int user_where(struct store *s, const char *sql, const char *value,
                      struct store_user *out)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, sql, &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, value, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  rc = WEFT_ENOENT;
  if (step == SQLITE_ROW && read_user(stmt, out) == 0)
    rc = 0;
  else if (step != SQLITE_ROW && step != SQLITE_DONE)
    rc = store_sqlite__fail(st, "read a user");
  sqlite3_finalize(stmt);
  return rc;
}

int store_sqlite__user_by_key(struct store *s, const char *key_id,
                              struct store_user *out)
{
  return user_where(s, "SELECT " USER_COLUMNS " FROM users WHERE key_id = ?",
                    key_id, out);
}

int store_sqlite__user_get(struct store *s, const char *name,
                           struct store_user *out)
{
  return user_where(s, "SELECT " USER_COLUMNS " FROM users WHERE name = ?",
                    name, out);
}

int store_sqlite__user_each(struct store *s,
                            int (*cb)(void *arg, const struct store_user *u),
                            void *arg)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st, "SELECT " USER_COLUMNS " FROM users ORDER BY name", &stmt);
  if (rc)
    return rc;
  int step;
  struct store_user u;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW)
    if (read_user(stmt, &u) == 0 && (rc = cb(arg, &u)) != 0)
      break;
  if (!rc && step != SQLITE_DONE)
    rc = store_sqlite__fail(st, "list users");
  sqlite3_finalize(stmt);
  return rc;
}

int store_sqlite__user_remove(struct store *s, const char *name)
{
  int n = store_sqlite__run_with_id(store_sqlite__impl(s),
                                    "DELETE FROM users WHERE name = ?", name,
                                    "remove a user");
  return n < 0 ? n : n ? 0 : WEFT_ENOENT;
}

int store_sqlite__user_set_key(struct store *s, const char *name,
                               const char *key_id,
                               const uint8_t key_hash[32], int64_t at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st,
      "UPDATE users SET key_id = ?, key_hash = ?, key_made_at = ? "
      "WHERE name = ?",
      &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(stmt, 2, key_hash, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 3, at);
  sqlite3_bind_text(stmt, 4, name, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step != SQLITE_DONE)
    return store_sqlite__fail(st, "give a user a new key");
  return sqlite3_changes(st->db) ? 0 : WEFT_ENOENT;
}
