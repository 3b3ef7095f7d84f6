/* A device replaces its key (weft device rotate ID, run on the device):
 * it logs in with its old key, makes a new one beside it
 * (STATE_DIR/device-keys/ID.key.new), has the server bind it in place of
 * the old (PUT /v1/devices/ID/key, signed by the new key over the old key
 * and the TLS channel), and only then puts it where the old one was. */
#ifndef WEFT_AGENT_KEY_ROTATION_H
#define WEFT_AGENT_KEY_ROTATION_H

#include <stddef.h>

#include "auth/device_key.h"
#include "base/url.h"

/* server: a connection string, or NULL for the server the device enrolled
 * with. 0 with the new key's fingerprint in fp, or -1 with err. */
int agent_rotate_key(const char *state_dir, const struct conn_url *server,
                     const char *device_id,
                     char fp[DEVICE_KEY_FINGERPRINT_LEN], char *err,
                     size_t errlen);

#endif
