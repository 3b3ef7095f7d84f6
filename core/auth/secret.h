/* The connection secret: 256 random bits made on first start, kept in the
 * state directory with mode 0600, shown to the admin as base64url inside
 * weft://SECRET@HOST:PORT. It never crosses the wire (see docs/security.md). */
#ifndef WEFT_CORE_SECRET_H
#define WEFT_CORE_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_BYTES 32
#define SECRET_TEXT_LEN 43 /* base64url of 32 bytes, no padding */

struct secret {
  uint8_t key[SECRET_BYTES];
  char text[SECRET_TEXT_LEN + 1];
};

/* Creates dir (mode 0700) and its parents if missing. 0, or -1 with err. */
int state_dir_prepare(const char *dir, char *err, size_t errlen);

/* The default state directory: /var/lib/weft for root, else
 * $XDG_STATE_HOME/weft or ~/.local/state/weft. */
const char *state_dir_default(void);

/* Loads dir/name, or creates it with a fresh secret when it does not exist.
 * A file that is empty, short, malformed, unreadable or readable by others
 * is an error (never silently replaced). 0, or -1 with err. */
int secret_load_or_create(const char *dir, const char *name,
                          struct secret *out, char *err, size_t errlen);

/* Decodes the text form (as in a connection string). 0 or -1. */
int secret_from_text(const char *text, struct secret *out);

/* Writes text to path with mode 0600 (replacing it atomically). */
int write_private_file(const char *path, const char *text, char *err,
                       size_t errlen);

#endif
