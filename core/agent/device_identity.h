/* Where a device agent keeps what must outlive a reboot (its device keys),
 * and the key of one device id, made on first use. */
#ifndef WEFT_CORE_DEVICE_IDENTITY_H
#define WEFT_CORE_DEVICE_IDENTITY_H

#include <stddef.h>

#include "auth/device_key.h"

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

#endif
