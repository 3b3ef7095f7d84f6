/* A device agent's keys on disk (see device_identity.h). */
#include "agent/device_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* STATE_DIR/device-keys/ID.server: "HOST:PORT PIN", what an enrolled
 * device needs to find and know its server again. */
static void server_path(const char *state_dir, const char *device_id,
                        char *path, size_t len)
{
  snprintf(path, len, "%s/device-keys/%s.server", state_dir, device_id);
}

int agent_save_server(const char *state_dir, const struct enrollment *e,
                      char *err, size_t errlen)
{
  char path[PATH_MAX], text[URL_MAX_HOST + 100];
  server_path(state_dir, e->device_id, path, sizeof path);
  bool v6 = e->host_kind == URL_HOST_IPV6;
  int n = snprintf(text, sizeof text, "%s%s%s:%u %s\n", v6 ? "[" : "",
                   e->host, v6 ? "]" : "", e->port, e->pin);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                0600);
  bool ok = fd >= 0 && n > 0 && write(fd, text, (size_t)n) == n;
  if (fd >= 0 && close(fd) != 0)
    ok = false;
  if (!ok)
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
  return ok ? 0 : -1;
}

int agent_load_server(const char *state_dir, const char *device_id,
                      struct enrollment *out, char *err, size_t errlen)
{
  char path[PATH_MAX], text[URL_MAX_HOST + 100], hostport[URL_MAX_HOST + 16];
  server_path(state_dir, device_id, path, sizeof path);
  FILE *f = fopen(path, "re");
  if (!f)
    return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot read %s: %s",
                                           path, strerror(errno)),
                                  -1);
  bool got = fgets(text, sizeof text, f) != NULL;
  fclose(f);
  memset(out, 0, sizeof *out);
  char why[160];
  if (!got || sscanf(text, "%268s %63s", hostport, out->pin) != 2 ||
      !enrollment_pin_valid(out->pin, strlen(out->pin)) ||
      hostport_parse(hostport, &out->host_kind, out->host, sizeof out->host,
                     &out->port, why, sizeof why) != 0) {
    snprintf(err, errlen, "%s is damaged: enroll the device again", path);
    return -1;
  }
  snprintf(out->device_id, sizeof out->device_id, "%s", device_id);
  return 1;
}
