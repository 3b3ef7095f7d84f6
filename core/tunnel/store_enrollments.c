/* The SQLite store's one-time enrollments (auth/enrollment.h). */
#include <stdio.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/crypto.h"
#include "tunnel/store_sqlite_internal.h"

int store_sqlite__enrollment_put(struct store *s, const char *device_id,
                                 const uint8_t token_hash[32],
                                 const char *class_name, int64_t expires_at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st, "INSERT OR REPLACE INTO enrollments VALUES(?,?,?,?)", &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(stmt, 2, token_hash, 32, SQLITE_TRANSIENT);
  if (class_name && *class_name)
    sqlite3_bind_text(stmt, 3, class_name, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(stmt, 3);
  sqlite3_bind_int64(stmt, 4, expires_at);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return step == SQLITE_DONE ? 0
                             : store_sqlite__fail(st, "keep an enrollment");
}

int store_sqlite__enrollment_take(struct store *s, const char *device_id,
                                  const uint8_t token_hash[32], char class_name[64],
                                  int64_t *expires_at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st,
      "SELECT token_hash, class, expires_at FROM enrollments "
      "WHERE device_id = ?",
      &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(stmt);
  rc = WEFT_ENOENT;
  if (step == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 32 &&
      crypto_equal(token_hash, sqlite3_column_blob(stmt, 0), 32)) {
    const char *cls = (const char *)sqlite3_column_text(stmt, 1);
    snprintf(class_name, 64, "%s", cls ? cls : "");
    *expires_at = sqlite3_column_int64(stmt, 2);
    rc = 0;
  } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
    rc = store_sqlite__fail(st, "read an enrollment");
  }
  sqlite3_finalize(stmt);
  if (rc == 0) { /* one use */
    int n = store_sqlite__run_with_id(
        st, "DELETE FROM enrollments WHERE device_id = ?", device_id,
        "use up an enrollment");
    if (n < 0)
      return n;
  }
  return rc;
}
