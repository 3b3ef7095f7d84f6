/* A device agent's keys on disk (see device_identity.h). */
#include "agent/device_identity.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/log.h"

const char *agent_state_dir_default(void)
{
  static char dir[PATH_MAX];
  const char *env = getenv("WEFT_STATE_DIR");
  const char *xdg = getenv("XDG_STATE_HOME");
  const char *home = getenv("HOME");
  if (env && *env == '/')
    snprintf(dir, sizeof dir, "%s", env);
  else if (geteuid() == 0)
    snprintf(dir, sizeof dir, "/var/lib/weft");
  else if (xdg && *xdg == '/')
    snprintf(dir, sizeof dir, "%s/weft", xdg);
  else if (home && *home == '/')
    snprintf(dir, sizeof dir, "%s/.local/state/weft", home);
  else
    snprintf(dir, sizeof dir, "/tmp/weft-state-%u", (unsigned)geteuid());
  return dir;
}

/* Device ids are letters, digits, '-', '_' and '.', so one names a file
 * safely (with ".key" after it, not even ".." is a directory). */
static void key_path(const char *state_dir, const char *device_id,
                     char *path, size_t len)
{
  snprintf(path, len, "%s/device-keys/%s.key", state_dir, device_id);
}

int agent_device_key_if_any(const char *state_dir, const char *device_id,
                            struct device_key *out, char *err,
                            size_t errlen)
{
  char path[PATH_MAX];
  key_path(state_dir, device_id, path, sizeof path);
  return device_key_load(path, out, err, errlen);
}

int agent_device_key(const char *state_dir, const char *device_id,
                     struct device_key *out, char *err, size_t errlen)
{
  char path[PATH_MAX];
  key_path(state_dir, device_id, path, sizeof path);
  bool created = false;
  if (device_key_load_or_create(path, out, &created, err, errlen) != 0)
    return -1;
  if (created) {
    char fp[DEVICE_KEY_FINGERPRINT_LEN];
    device_key_fingerprint(out->public_key, fp);
    log_info("device %s: made its device key %s (fingerprint %s); the "
             "server binds the id to it at the first login",
             device_id, path, fp);
  }
  return 0;
}
