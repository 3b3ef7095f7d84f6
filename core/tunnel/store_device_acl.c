/* The SQLite store's device ACLs as operators set them through the API
 * (auth/acl_overrides.h): one row per device, a column per field. */
#include <stdio.h>
#include <string.h>

#include <weft/errors.h>

#include "tunnel/store_sqlite_internal.h"

int store_sqlite__device_acl_put(struct store *s, const char *device_id,
                                 const char *const text[ACL_OV_COUNT],
                                 int64_t at)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  bool any = false;
  for (int i = 0; i < ACL_OV_COUNT; i++)
    any |= text[i] != NULL;
  if (!any) {
    int n = store_sqlite__run_with_id(
        st, "DELETE FROM device_acl WHERE device_id = ?", device_id,
        "forget a device's ACL");
    return n < 0 ? n : 0;
  }
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st,
      "INSERT OR REPLACE INTO device_acl(device_id, class, publish_ports, "
      "publish_hosts, reach_ports, allow_ips, updated_at) "
      "VALUES(?,?,?,?,?,?,?)",
      &stmt);
  if (rc)
    return rc;
  sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  for (int i = 0; i < ACL_OV_COUNT; i++) {
    if (text[i])
      sqlite3_bind_text(stmt, 2 + i, text[i], -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(stmt, 2 + i);
  }
  sqlite3_bind_int64(stmt, 2 + ACL_OV_COUNT, at);
  int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return step == SQLITE_DONE ? 0
                             : store_sqlite__fail(st, "keep a device's ACL");
}

int store_sqlite__device_acl_each(
    struct store *s,
    int (*cb)(void *arg, const char *device_id,
              const char *const text[ACL_OV_COUNT]),
    void *arg)
{
  struct sqlite_store *st = store_sqlite__impl(s);
  sqlite3_stmt *stmt;
  int rc = store_sqlite__prepare(
      st,
      "SELECT device_id, class, publish_ports, publish_hosts, reach_ports, "
      "allow_ips FROM device_acl ORDER BY device_id",
      &stmt);
  if (rc)
    return rc;
  int step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    const char *text[ACL_OV_COUNT];
    for (int i = 0; i < ACL_OV_COUNT; i++)
      text[i] = (const char *)sqlite3_column_text(stmt, 1 + i);
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    if (id && (rc = cb(arg, id, text)) != 0)
      break;
  }
  if (!rc && step != SQLITE_DONE)
    rc = store_sqlite__fail(st, "read devices' ACLs");
  sqlite3_finalize(stmt);
  return rc;
}
