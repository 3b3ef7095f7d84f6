/* The SQLite store: one file in the state directory, WAL journal with
 * synchronous=FULL so a commit that returned survives kill -9 and power
 * loss; unique indexes make a duplicate lease impossible whatever order
 * writes and crashes come in. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/errors.h>

#include "base/log.h"
#include "tunnel/store_sqlite_internal.h"

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=ON;"
    /* The page cache grows with the audit trail up to this (2 MiB), then
     * reuses its pages: a server's memory does not grow with its age. */
    "PRAGMA cache_size=-2048;"
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('schema', '1');"
    "CREATE TABLE IF NOT EXISTS leases("
    "  tunnel_id TEXT PRIMARY KEY,"
    "  device_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  transport TEXT NOT NULL,"
    "  local_url TEXT NOT NULL,"
    "  remote_url TEXT NOT NULL,"
    "  public_url TEXT NOT NULL,"
    "  allow_ips TEXT NOT NULL,"
    "  vip INTEGER,"
    "  port_proto TEXT,"
    "  port INTEGER,"
    "  hostname TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  idle_timeout INTEGER NOT NULL,"
    "  last_activity INTEGER NOT NULL);"
    /* Every claim held once. A device may hold several tunnels (its
     * class's max_tunnels): the unique index of older stores goes. */
    "DROP INDEX IF EXISTS leases_device;"
    "CREATE INDEX IF NOT EXISTS leases_by_device ON leases(device_id);"
    "CREATE UNIQUE INDEX IF NOT EXISTS leases_vip ON leases(vip)"
    "  WHERE vip IS NOT NULL;"
    "CREATE UNIQUE INDEX IF NOT EXISTS leases_port ON leases(port_proto, port)"
    "  WHERE port IS NOT NULL;"
    "CREATE UNIQUE INDEX IF NOT EXISTS leases_hostname ON leases(hostname)"
    "  WHERE hostname IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS quarantine("
    "  vip INTEGER PRIMARY KEY, until INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  event TEXT NOT NULL,"
    "  tunnel_id TEXT,"
    "  device_id TEXT,"
    "  detail TEXT);"
    "CREATE INDEX IF NOT EXISTS audit_tunnel ON audit(tunnel_id);"
    "CREATE INDEX IF NOT EXISTS audit_device ON audit(device_id);"
    "CREATE TABLE IF NOT EXISTS device_keys("
    "  device_id TEXT PRIMARY KEY,"
    "  public_key BLOB NOT NULL,"
    "  bound_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS revoked_devices("
    "  device_id TEXT PRIMARY KEY,"
    "  revoked_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS users("
    "  name TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL,"
    "  key_id TEXT NOT NULL UNIQUE,"
    "  key_hash BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  key_made_at INTEGER NOT NULL);"
    /* How a user signs in to the console besides their key: NULL where
     * unset. password_gen counts changes (a change ends sessions). */
    "CREATE TABLE IF NOT EXISTS user_signin("
    "  name TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,"
    "  password_hash TEXT,"
    "  password_gen INTEGER NOT NULL DEFAULT 0,"
    "  totp_secret TEXT,"
    "  totp_last_step INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS device_acl("
    "  device_id TEXT PRIMARY KEY,"
    "  class TEXT, publish_ports TEXT, publish_hosts TEXT,"
    "  reach_ports TEXT, allow_ips TEXT,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS enrollments("
    "  device_id TEXT PRIMARY KEY,"
    "  token_hash BLOB NOT NULL,"
    "  class TEXT,"
    "  expires_at INTEGER NOT NULL);";

/* Stores made before the audit trail named actors get the column. */
static int add_actor_column(struct sqlite_store *st, char **msg)
{
  sqlite3_stmt *stmt;
  if (sqlite3_prepare_v2(st->db, "SELECT actor FROM audit LIMIT 0", -1,
                         &stmt, NULL) == SQLITE_OK) {
    sqlite3_finalize(stmt);
    return 0;
  }
  return sqlite3_exec(st->db, "ALTER TABLE audit ADD COLUMN actor TEXT;"
                              "CREATE INDEX IF NOT EXISTS audit_actor "
                              "ON audit(actor);",
                      NULL, NULL, msg) == SQLITE_OK
             ? 0
             : -1;
}

struct sqlite_store *store_sqlite__impl(struct store *s)
{
  return (struct sqlite_store *)s;
}

int store_sqlite__fail(struct sqlite_store *st, const char *what)
{
  log_error("store: %s: %s", what, sqlite3_errmsg(st->db));
  return WEFT_EIO;
}

int store_sqlite__prepare(struct sqlite_store *st, const char *sql,
                          sqlite3_stmt **stmt)
{
  if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
    return store_sqlite__fail(st, "prepare");
  return 0;
}

int store_sqlite__prepare_with_id(struct sqlite_store *st, const char *sql,
                                  const char *id, sqlite3_stmt **stmt)
{
  int rc = store_sqlite__prepare(st, sql, stmt);
  if (rc == 0)
    sqlite3_bind_text(*stmt, 1, id, -1, SQLITE_TRANSIENT);
  return rc;
}

int store_sqlite__step_changes(struct sqlite_store *st, sqlite3_stmt *stmt,
                               int on_constraint, const char *what)
{
  assert(on_constraint <= 0);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step == SQLITE_CONSTRAINT && on_constraint)
    return on_constraint;
  if (step != SQLITE_DONE)
    return store_sqlite__fail(st, what);
  /* The connection's count: it outlives the finalized statement. */
  return sqlite3_changes(st->db);
}

static void bind_text_or_null(sqlite3_stmt *stmt, int i, const char *s)
{
  if (s && *s)
    sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(stmt, i);
}

static int sq_lease_insert(struct store *s, const struct lease *l)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st,
                   "INSERT INTO leases VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, l->tunnel_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, l->device_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 3, l->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 4, l->transport, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 5, l->local_url, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 6, l->remote_url, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 7, l->public_url, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 8, l->allow_ips, -1, SQLITE_TRANSIENT);
  if (l->vip)
    sqlite3_bind_int64(stmt, 9, l->vip);
  else
    sqlite3_bind_null(stmt, 9);
  bind_text_or_null(stmt, 10, l->port ? l->port_proto : NULL);
  if (l->port)
    sqlite3_bind_int(stmt, 11, l->port);
  else
    sqlite3_bind_null(stmt, 11);
  bind_text_or_null(stmt, 12, l->hostname);
  sqlite3_bind_int64(stmt, 13, l->created_at);
  sqlite3_bind_int64(stmt, 14, l->expires_at);
  sqlite3_bind_int64(stmt, 15, l->idle_timeout_s);
  sqlite3_bind_int64(stmt, 16, l->last_activity);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step == SQLITE_CONSTRAINT)
    return WEFT_EEXIST;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "insert lease");
}

static int exec(struct sqlite_store *st, const char *sql)
{
  char *msg = NULL;
  if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    log_error("store: %s", msg ? msg : "error");
    sqlite3_free(msg);
    return WEFT_EIO;
  }
  return 0;
}

static int sq_lease_delete(struct store *s, const char *tunnel_id,
                           uint32_t vip, int64_t quarantine_until)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  int rc = exec(st, "BEGIN IMMEDIATE");
  if (rc)
    return rc;
  sqlite3_stmt *stmt;
  if ((rc = store_sqlite__prepare(st, "DELETE FROM leases WHERE tunnel_id = ?", &stmt)))
    goto rollback;
  sqlite3_bind_text(stmt, 1, tunnel_id, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step != SQLITE_DONE) {
    rc = store_sqlite__fail(st, "delete lease");
    goto rollback;
  }
  if (vip) {
    if ((rc = store_sqlite__prepare(st, "INSERT OR REPLACE INTO quarantine VALUES(?, ?)",
                      &stmt)))
      goto rollback;
    sqlite3_bind_int64(stmt, 1, vip);
    sqlite3_bind_int64(stmt, 2, quarantine_until);
    step = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (step != SQLITE_DONE) {
      rc = store_sqlite__fail(st, "quarantine address");
      goto rollback;
    }
  }
  return exec(st, "COMMIT");
rollback:
  exec(st, "ROLLBACK");
  return rc;
}

static int sq_lease_set_activity(struct store *s, const char *tunnel_id,
                                 int64_t last_activity)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st,
                   "UPDATE leases SET last_activity = ? WHERE tunnel_id = ?",
                   &stmt);
  if (rc)
    return rc;
  sqlite3_bind_int64(stmt, 1, last_activity);
  sqlite3_bind_text(stmt, 2, tunnel_id, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "update activity");
}

static int sq_lease_set_expiry(struct store *s, const char *tunnel_id,
                               int64_t expires_at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, "UPDATE leases SET expires_at = ? WHERE tunnel_id = ?",
                   &stmt);
  if (rc)
    return rc;
  sqlite3_bind_int64(stmt, 1, expires_at);
  sqlite3_bind_text(stmt, 2, tunnel_id, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "update expiry");
}

static char *column_text(sqlite3_stmt *stmt, int i)
{
  const unsigned char *t = sqlite3_column_text(stmt, i);
  return (char *)(t ? (const char *)t : "");
}

static int sq_lease_each(struct store *s,
                         int (*cb)(void *arg, const struct lease *l),
                         void *arg)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, "SELECT * FROM leases ORDER BY created_at", &stmt);
  if (rc)
    return rc;
  int step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    struct lease l = {
        .tunnel_id = column_text(stmt, 0),
        .device_id = column_text(stmt, 1),
        .name = column_text(stmt, 2),
        .transport = column_text(stmt, 3),
        .local_url = column_text(stmt, 4),
        .remote_url = column_text(stmt, 5),
        .public_url = column_text(stmt, 6),
        .allow_ips = column_text(stmt, 7),
        .vip = (uint32_t)sqlite3_column_int64(stmt, 8),
        .port = (uint16_t)sqlite3_column_int(stmt, 10),
        .hostname = column_text(stmt, 11),
        .created_at = sqlite3_column_int64(stmt, 12),
        .expires_at = sqlite3_column_int64(stmt, 13),
        .idle_timeout_s = sqlite3_column_int64(stmt, 14),
        .last_activity = sqlite3_column_int64(stmt, 15),
    };
    snprintf(l.port_proto, sizeof l.port_proto, "%s", column_text(stmt, 9));
    l.last_persisted = l.last_activity;
    if ((rc = cb(arg, &l)) != 0)
      break;
  }
  sqlite3_finalize(stmt);
  if (rc)
    return rc;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "read leases");
}

static int sq_quarantine_each(struct store *s,
                              int (*cb)(void *arg, uint32_t vip, int64_t until),
                              void *arg)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, "SELECT vip, until FROM quarantine", &stmt);
  if (rc)
    return rc;
  int step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW)
    if ((rc = cb(arg, (uint32_t)sqlite3_column_int64(stmt, 0),
                 sqlite3_column_int64(stmt, 1))) != 0)
      break;
  sqlite3_finalize(stmt);
  if (rc)
    return rc;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "read quarantine");
}

static int sq_quarantine_drop(struct store *s, uint32_t vip)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, "DELETE FROM quarantine WHERE vip = ?", &stmt);
  if (rc)
    return rc;
  sqlite3_bind_int64(stmt, 1, vip);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "drop quarantine");
}

static int sq_audit(struct store *s, const struct audit_event *e)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st,
                   "INSERT INTO audit(at, event, tunnel_id, device_id, detail,"
                   " actor) VALUES(?, ?, ?, ?, ?, ?)",
                   &stmt);
  if (rc)
    return rc;
  sqlite3_bind_int64(stmt, 1, e->at);
  sqlite3_bind_text(stmt, 2, e->event, -1, SQLITE_TRANSIENT);
  bind_text_or_null(stmt, 3, e->tunnel_id);
  bind_text_or_null(stmt, 4, e->device_id);
  bind_text_or_null(stmt, 5, e->detail);
  bind_text_or_null(stmt, 6, e->actor);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "audit");
}

#define AUDIT_COLUMNS                                                        \
  "SELECT seq, at, event, tunnel_id, device_id, detail, actor "

/* Hands each row of a prepared audit query to cb, then finalizes it. */
static int each_event(struct sqlite_store *st, sqlite3_stmt *stmt,
                      int (*cb)(void *arg, const struct audit_event *e),
                      void *arg)
{
  int rc = 0, step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    struct audit_event e = {
        .seq = sqlite3_column_int64(stmt, 0),
        .at = sqlite3_column_int64(stmt, 1),
        .event = column_text(stmt, 2),
        .tunnel_id = column_text(stmt, 3),
        .device_id = column_text(stmt, 4),
        .detail = column_text(stmt, 5),
        .actor = sqlite3_column_type(stmt, 6) == SQLITE_NULL
                     ? NULL
                     : column_text(stmt, 6),
    };
    if ((rc = cb(arg, &e)) != 0)
      break;
  }
  sqlite3_finalize(stmt);
  if (rc)
    return rc;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "read audit");
}

static int sq_audit_each(struct store *s, const struct audit_filter *f,
                         size_t limit,
                         int (*cb)(void *arg, const struct audit_event *e),
                         void *arg)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  /* A NULL parameter lets every row through (one statement, no SQL made
   * from input). */
  int rc = store_sqlite__prepare(st,
                   AUDIT_COLUMNS "FROM audit WHERE (?1 IS NULL OR device_id = ?1)"
                                 " AND (?2 IS NULL OR actor = ?2)"
                                 " AND (?3 IS NULL OR event = ?3)"
                                 " AND at >= ?4 ORDER BY seq DESC LIMIT ?5",
                   &stmt);
  if (rc)
    return rc;
  if (f && f->device_id)
    sqlite3_bind_text(stmt, 1, f->device_id, -1, SQLITE_TRANSIENT);
  if (f && f->actor)
    sqlite3_bind_text(stmt, 2, f->actor, -1, SQLITE_TRANSIENT);
  if (f && f->event)
    sqlite3_bind_text(stmt, 3, f->event, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 4, f ? f->since : 0);
  sqlite3_bind_int64(stmt, 5, (sqlite3_int64)limit);
  return each_event(st, stmt, cb, arg);
}

static int sq_audit_last(struct store *s, const char *tunnel_id,
                         int (*cb)(void *arg, const struct audit_event *e),
                         void *arg)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st,
                   AUDIT_COLUMNS "FROM audit WHERE tunnel_id = ? "
                                 "ORDER BY seq DESC LIMIT 1",
                   &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, tunnel_id, -1, SQLITE_TRANSIENT);
  return each_event(st, stmt, cb, arg);
}

static int sq_device_key_get(struct store *s, const char *device_id,
                             uint8_t public_key[32], int64_t *bound_at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st,
                   "SELECT public_key, bound_at FROM device_keys "
                   "WHERE device_id = ?",
                   &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  rc = WEFT_ENOENT;
  if (step == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 32) {
    memcpy(public_key, sqlite3_column_blob(stmt, 0), 32);
    if (bound_at)
      *bound_at = sqlite3_column_int64(stmt, 1);
    rc = 0;
  } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
    rc = store_sqlite__fail(st, "read a device key");
  }
  sqlite3_finalize(stmt);
  return rc;
}

static int sq_device_key_bind(struct store *s, const char *device_id,
                              const uint8_t public_key[32], int64_t at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, "INSERT INTO device_keys VALUES(?,?,?)", &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(stmt, 2, public_key, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 3, at);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step == SQLITE_CONSTRAINT)
    return WEFT_EEXIST;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "bind a device key");
}

static int sq_device_key_replace(struct store *s, const char *device_id,
                                 const uint8_t old_key[32],
                                 const uint8_t new_key[32], int64_t at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st,
      "UPDATE device_keys SET public_key = ?, bound_at = ? "
      "WHERE device_id = ? AND public_key = ?",
      &stmt);
  if (rc)
    return rc;
  sqlite3_bind_blob(stmt, 1, new_key, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 2, at);
  sqlite3_bind_text(stmt, 3, device_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(stmt, 4, old_key, 32, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step != SQLITE_DONE)
    return store_sqlite__fail(st, "replace a device key");
  return sqlite3_changes(st->db) ? 0 : WEFT_ENOENT;
}

static int sq_device_key_each(struct store *s,
                              int (*cb)(void *arg, const char *device_id,
                                        const uint8_t public_key[32],
                                        int64_t bound_at),
                              void *arg)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st,
                   "SELECT device_id, public_key, bound_at FROM device_keys "
                   "ORDER BY device_id",
                   &stmt);
  if (rc)
    return rc;
  int step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (sqlite3_column_bytes(stmt, 1) != 32)
      continue;
    rc = cb(arg, (const char *)sqlite3_column_text(stmt, 0),
            sqlite3_column_blob(stmt, 1), sqlite3_column_int64(stmt, 2));
    if (rc)
      break;
  }
  if (!rc && step != SQLITE_DONE)
    rc = store_sqlite__fail(st, "list device keys");
  sqlite3_finalize(stmt);
  return rc;
}

/* Runs a statement with one text parameter; how many rows it changed,
 * or a negative code. */
int store_sqlite__run_with_id(struct sqlite_store *st, const char *sql,
                              const char *id, const char *what)
{
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare_with_id(st, sql, id, &stmt);
  if (rc)
    return rc;
  return store_sqlite__step_changes(st, stmt, 0, what);
}

static int sq_device_key_forget(struct store *s, const char *device_id)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  int keys = store_sqlite__run_with_id(st, "DELETE FROM device_keys WHERE device_id = ?",
                         device_id, "forget a device key");
  if (keys < 0)
    return keys;
  int revoked = store_sqlite__run_with_id(st,
                            "DELETE FROM revoked_devices WHERE device_id = ?",
                            device_id, "lift a revocation");
  if (revoked < 0)
    return revoked;
  return keys + revoked ? 0 : WEFT_ENOENT;
}

static int sq_device_revoke(struct store *s, const char *device_id,
                            int64_t at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, "INSERT INTO revoked_devices VALUES(?,?)", &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 2, at);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step == SQLITE_CONSTRAINT)
    return WEFT_EEXIST;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "revoke a device");
}

static int sq_device_revoked(struct store *s, const char *device_id)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(st, "SELECT 1 FROM revoked_devices WHERE device_id = ?",
                   &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step == SQLITE_ROW)
    return 1;
  return step == SQLITE_DONE ? 0 : store_sqlite__fail(st, "read a revocation");
}

static int64_t sq_memory_bytes(struct store *s)
{
  (void)s;
  return sqlite3_memory_used();
}

static void sq_close(struct store *s)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_close(st->db);
  free(st);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .lease_insert = sq_lease_insert,
    .lease_delete = sq_lease_delete,
    .lease_set_activity = sq_lease_set_activity,
    .lease_set_expiry = sq_lease_set_expiry,
    .lease_each = sq_lease_each,
    .quarantine_each = sq_quarantine_each,
    .quarantine_drop = sq_quarantine_drop,
    .audit = sq_audit,
    .audit_each = sq_audit_each,
    .audit_last = sq_audit_last,
    .device_key_get = sq_device_key_get,
    .device_key_bind = sq_device_key_bind,
    .device_key_replace = sq_device_key_replace,
    .device_key_each = sq_device_key_each,
    .device_key_forget = sq_device_key_forget,
    .device_revoke = sq_device_revoke,
    .device_revoked = sq_device_revoked,
    .user_add = store_sqlite__user_add,
    .user_by_key = store_sqlite__user_by_key,
    .user_get = store_sqlite__user_get,
    .user_each = store_sqlite__user_each,
    .user_remove = store_sqlite__user_remove,
    .user_set_key = store_sqlite__user_set_key,
    .user_signin_get = store_sqlite__user_signin_get,
    .user_set_password = store_sqlite__user_set_password,
    .user_rehash_password = store_sqlite__user_rehash_password,
    .user_set_totp = store_sqlite__user_set_totp,
    .user_totp_spend = store_sqlite__user_totp_spend,
    .enrollment_put = store_sqlite__enrollment_put,
    .enrollment_take = store_sqlite__enrollment_take,
    .device_acl_put = store_sqlite__device_acl_put,
    .device_acl_each = store_sqlite__device_acl_each,
    .memory_bytes = sq_memory_bytes,
    .close = sq_close,
};

/* The store holds device ids, tunnels and the audit trail: only the
 * server's user reads it. SQLite gives its -wal and -shm files the
 * database file's mode, so making (or correcting) that file 0600 first
 * covers all three. */
static int make_private(const char *path, char *err, size_t errlen)
{
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0) {
    snprintf(err, errlen, "cannot open the store %s: %s", path,
             strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

/* SQLite times every statement it runs (SQLITE_TRACE_PROFILE, in ns):
 * one hook, instead of a clock around each call. */
static int on_profile(unsigned mask, void *ctx, void *stmt, void *ns)
{
  (void)mask;
  (void)stmt;
  struct sqlite_store *st = ctx;
  prom_observe(&st->base.latency, (double)*(const sqlite3_int64 *)ns / 1e9);
  return 0;
}

int store_open_sqlite(const char *path, struct store **out, char *err,
                      size_t errlen)
{
  if (strcmp(path, ":memory:") && make_private(path, err, errlen) != 0)
    return WEFT_EIO;
  struct sqlite_store *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return WEFT_ENOMEM;
  }
  st->base.ops = &sqlite_ops;
  int rc = sqlite3_open_v2(path, &st->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  if (rc == SQLITE_OK)
    sqlite3_busy_timeout(st->db, 5000);
  char *msg = NULL;
  if (rc != SQLITE_OK ||
      sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
      add_actor_column(st, &msg) != 0) {
    snprintf(err, errlen, "cannot open the store %s: %s", path,
             msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    sqlite3_close(st->db);
    free(st);
    return WEFT_EIO;
  }
  sqlite3_trace_v2(st->db, SQLITE_TRACE_PROFILE, on_profile, st);
  *out = &st->base;
  return 0;
}
