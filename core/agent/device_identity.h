/* Where a device agent keeps what must outlive a reboot (its device keys),
 * and the key of one device id, made on first use. */
#ifndef WEFT_CORE_DEVICE_IDENTITY_H
#define WEFT_CORE_DEVICE_IDENTITY_H

#include <stddef.h>

#include "auth/device_key.h"
#include "auth/enrollment.h"

/* $WEFT_STATE_DIR if absolute; else /var/lib/weft for root, else
 * $XDG_STATE_HOME/weft or ~/.local/state/weft. */
const char *agent_state_dir_default(void);

/* The key of device_id, in STATE_DIR/device-keys/ID.key, made (and said
 * on stderr, with its fingerprint) the first time. 0, or -1 with err. */
int agent_device_key(const char *state_dir, const char *device_id,
                     struct device_key *out, char *err, size_t errlen);

/* The key of device_id if the state directory has one, never making one
 * (weft login signs with it): 1, 0 when there is none, -1 with err. */
int agent_device_key_if_any(const char *state_dir, const char *device_id,
                            struct device_key *out, char *err,
                            size_t errlen);

/* After an enrollment: where its server is and its pinned certificate,
 * kept beside the device's key (STATE_DIR/device-keys/ID.server, 0600),
 * so that later runs need no connection string. 0, or -1 with err. */
int agent_save_server(const char *state_dir, const struct enrollment *e,
                      char *err, size_t errlen);
/* That, for device_id: 1 (*out filled, no token), 0 when the device was
 * never enrolled this way, -1 with err. */
int agent_load_server(const char *state_dir, const char *device_id,
                      struct enrollment *out, char *err, size_t errlen);

#endif
