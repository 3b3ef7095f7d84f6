/* The server's record of each tunnel's keys (the device's public key and
 * the preshared key), so a restarted server can take its devices back: the
 * create request that carried them is not sent again. One 0600 JSON file
 * per tunnel under the plugin's state directory. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server_internal.h"

void srv_state_path(struct wg_server *srv, const char *id, char *buf,
                       size_t len)
{
  snprintf(buf, len, "%s/%s.json", srv->tunnels_dir, id);
}

/* The tunnel's keys, kept so a restarted server can take its device back
 * (the create request that carried them is not sent again). */
int srv_save_tunnel(struct wg_server *srv, const struct srv_tunnel *st)
{
  char key[WG_KEY_B64_LEN], psk[WG_KEY_B64_LEN];
  wg_key_to_base64(st->device_key, key);
  wg_key_to_base64(st->psk, psk);
  json_t *doc = json_pack("{s:s, s:s, s:s}", "device_id", st->device_id,
                          "device_public_key", key, "preshared_key", psk);
  char path[1100], tmp[1110];
  srv_state_path(srv, st->id, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int rc = fd >= 0 && doc && json_dumpfd(doc, fd, 0) == 0 ? 0 : -1;
  if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0))
    rc = -1;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -1;
  if (rc != 0)
    unlink(tmp);
  json_decref(doc);
  return rc;
}

int srv_load_tunnel(struct wg_server *srv, struct srv_tunnel *st)
{
  char path[1100];
  srv_state_path(srv, st->id, path, sizeof path);
  json_t *doc = json_load_file(path, 0, NULL);
  const char *key = NULL, *psk = NULL;
  int rc = doc && json_unpack(doc, "{s:s, s:s}", "device_public_key", &key,
                              "preshared_key", &psk) == 0 &&
                   wg_key_from_base64(key, st->device_key) == 0 &&
                   wg_key_from_base64(psk, st->psk) == 0
               ? 0
               : -1;
  json_decref(doc);
  return rc;
}

/* Files of tunnels that were not restored: their leases are gone. */
void srv_sweep_tunnel_files(struct wg_server *srv)
{
  DIR *d = opendir(srv->tunnels_dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    char id[64];
    size_t n = strlen(e->d_name);
    if (n < 6 || n - 5 >= sizeof id || strcmp(e->d_name + n - 5, ".json"))
      continue;
    memcpy(id, e->d_name, n - 5);
    id[n - 5] = '\0';
    bool live = false;
    for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
      live |= !strcmp(st->id, id);
    if (!live) {
      char path[1100];
      srv_state_path(srv, id, path, sizeof path);
      unlink(path);
    }
  }
  closedir(d);
}
