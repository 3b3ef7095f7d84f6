#include "agent/tunnel_status.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/names.h"
#include "auth/secret.h"

static const char *const phase_names[] = {"connecting", "up", "retrying",
                                          "failed"};

static const char *phase_name(enum weft_tunnel_phase p)
{
  return (unsigned)p < 4 ? phase_names[p] : "unknown";
}

const char *run_dir_default(void)
{
  static char dir[PATH_MAX];
  const char *env = getenv("WEFT_RUN_DIR");
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (env && *env == '/')
    snprintf(dir, sizeof dir, "%s", env);
  else if (geteuid() == 0)
    snprintf(dir, sizeof dir, "/run/weft");
  else if (xdg && *xdg == '/')
    snprintf(dir, sizeof dir, "%s/weft", xdg);
  else
    snprintf(dir, sizeof dir, "/tmp/weft-run-%u", (unsigned)geteuid());
  return dir;
}

void tunnel_status_apply(struct tunnel_status *st,
                         const struct weft_tunnel_state *report)
{
  int64_t now = clock_wall_s();
  if (report->phase == WEFT_TUNNEL_UP && st->phase != WEFT_TUNNEL_UP)
    st->up_since = now;
  if (report->phase != WEFT_TUNNEL_UP)
    st->up_since = 0;
  st->phase = report->phase;
  st->restarts = report->restarts;
  st->changed = now;
  snprintf(st->detail, sizeof st->detail, "%s",
           report->detail ? report->detail : "");
  if ((report->phase == WEFT_TUNNEL_RETRYING ||
       report->phase == WEFT_TUNNEL_FAILED) &&
      report->detail) {
    snprintf(st->last_error, sizeof st->last_error, "%s", report->detail);
    st->last_error_at = now;
  }
}

/* Labels become file names. */
bool tunnel_status_label_ok(const char *s)
{
  return name_is_file_safe(s, 63);
}

int tunnel_status_write(const char *run_dir, const struct tunnel_status *st)
{
  char dir[PATH_MAX], path[PATH_MAX + 80], tmp[PATH_MAX + 100], err[256];
  if (!tunnel_status_label_ok(st->label))
    return -1;
  snprintf(dir, sizeof dir, "%s/tunnels", run_dir);
  static bool prepared; /* one run dir per process */
  if (!prepared && state_dir_prepare(dir, err, sizeof err) != 0)
    return -1;
  prepared = true;
  snprintf(path, sizeof path, "%s/%s.json", dir, st->label);
  snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, st->label, (long)getpid());
  json_t *doc = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:I,s:I,s:s,s:s}", "name", st->label,
      "id", st->id, "transport", st->transport, "local", st->local,
      "public_url", st->public_url, "pid", (json_int_t)getpid(), "state",
      phase_name(st->phase), "up_since", (json_int_t)st->up_since, "changed",
      (json_int_t)st->changed, "restarts", (json_int_t)st->restarts, "detail",
      st->detail, "last_error", st->last_error);
  int rc = doc ? json_dump_file(doc, tmp, JSON_INDENT(2)) : -1;
  json_decref(doc);
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -1;
  if (rc != 0)
    unlink(tmp);
  return rc;
}

void tunnel_status_remove(const char *run_dir, const char *label)
{
  char path[PATH_MAX + 80];
  if (!tunnel_status_label_ok(label))
    return;
  snprintf(path, sizeof path, "%s/tunnels/%s.json", run_dir, label);
  unlink(path);
}

/* ---- weft tunnel status ---- */
