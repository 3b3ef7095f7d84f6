/* weft device rotate, on the device: a new key replaces the old one,
 * while the device is logged in with the old (see key_rotation.h). */
#include "agent/key_rotation.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/api_client.h"
#include "agent/device_identity.h"
#include "auth/crypto.h"

static const char *b64(const uint8_t *bin, size_t len, char *buf, size_t size)
{
  b64url_encode(bin, len, buf, size);
  return buf;
}

/* With c logged in as its device: the new key's signature over the old,
 * this connection and the id, sent on the connection it names. */
static int replace_on_server(struct client *c, const struct device_key *fresh,
                             char *fp, char *err, size_t errlen)
{
  json_t *reply = NULL;
  /* An authenticated request first: it opens the (pinned) connection the
   * replacement goes on, and tells its channel binding. */
  int status = client_request(c, "GET", "/v1/tunnels", NULL, &reply, err,
                              errlen);
  json_decref(reply);
  if (status != 200 || !c->conn.seen) {
    if (status)
      snprintf(err, errlen, "the server did not answer as expected (%d)",
               status);
    return -1;
  }
  uint8_t msg[256], sig[DEVICE_KEY_SIG_LEN];
  char t1[64], t2[128], path[128];
  size_t n = device_key_rotate_message(c->key.public_key, c->conn.binding,
                                       sizeof c->conn.binding, c->device_id,
                                       msg, sizeof msg);
  if (!n || device_key_sign(fresh, msg, n, sig) != 0) {
    snprintf(err, errlen, "cannot sign with the new key");
    return -1;
  }
  json_t *body = json_pack(
      "{s:s,s:s}", "device_key",
      b64(fresh->public_key, sizeof fresh->public_key, t1, sizeof t1),
      "device_sig", b64(sig, sizeof sig, t2, sizeof t2));
  snprintf(path, sizeof path, "/v1/devices/%s/key", c->device_id);
  status = client_request(c, "PUT", path, body, &reply, err, errlen);
  json_decref(body);
  if (status != 200) {
    if (status) {
      char why[512];
      client_error_text(reply, status, why, sizeof why);
      snprintf(err, errlen, "the server refused the new key: %s", why);
    }
    json_decref(reply);
    return -1;
  }
  snprintf(fp, DEVICE_KEY_FINGERPRINT_LEN, "%s",
           json_string_value(json_object_get(reply, "key_fingerprint")));
  json_decref(reply);
  return 0;
}

int agent_rotate_key(const char *state_dir, const struct conn_url *server,
                     const char *device_id,
                     char fp[DEVICE_KEY_FINGERPRINT_LEN], char *err,
                     size_t errlen)
{
  struct client c;
  struct enrollment e;
  int found = 0;
  if (!server) {
    found = agent_load_server(state_dir, device_id, &e, err, errlen);
    if (found < 0)
      return -1;
    if (!found) {
      snprintf(err, errlen, "device %s was never enrolled here: give the "
                            "connection string",
               device_id);
      return -1;
    }
  }
  if ((found ? client_init_keyed(&c, &e, err, errlen)
             : client_init(&c, server, device_id, err, errlen)) != 0)
    return -1;
  int rc = agent_device_key_if_any(state_dir, device_id, &c.key, err, errlen);
  if (rc <= 0) {
    if (rc == 0)
      snprintf(err, errlen, "device %s has no key in %s/device-keys to "
                            "rotate",
               device_id, state_dir);
    client_free(&c);
    return -1;
  }
  c.has_key = true;
  char old_path[PATH_MAX], new_path[PATH_MAX + 8];
  snprintf(old_path, sizeof old_path, "%s/device-keys/%s.key", state_dir,
           device_id);
  snprintf(new_path, sizeof new_path, "%s.new", old_path);
  struct device_key fresh;
  bool created;
  /* The new key is on disk before the server knows it: whatever happens
   * next, the device holds the key the server binds. */
  rc = client_ensure_session(&c, err, errlen) != 0 ||
               device_key_load_or_create(new_path, &fresh, &created, err,
                                         errlen) != 0
           ? -1
           : replace_on_server(&c, &fresh, fp, err, errlen);
  if (rc == 0 && rename(new_path, old_path) != 0) {
    snprintf(err, errlen, "the server has the new key, but %s could not "
                          "replace %s: move it there by hand",
             new_path, old_path);
    rc = -1;
  } else if (rc != 0) {
    unlink(new_path);
  }
  crypto_wipe(&fresh, sizeof fresh);
  client_free(&c);
  return rc;
}
