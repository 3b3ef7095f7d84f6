/* The lines the weft server writes into the bastion's authorized_keys:
 * one per tunnel, for that tunnel's own key, marked with a comment the
 * server recognises, and allowed nothing but one remote forward:
 *
 *   restrict,port-forwarding,permitlisten="127.0.0.1:PORT",
 *   permitopen="0.0.0.0:1",command="/bin/false",expiry-time="...Z" KEY
 *   weft-tunnel:ID
 *
 * restrict turns everything off; port-forwarding turns forwarding back on,
 * permitlisten then allows exactly one -R listener, permitopen names an
 * address nothing can be reached at so -L goes nowhere, and the forced
 * command means no shell. Every other line of the file is left as it is. */
#ifndef WEFT_AUTOSSH_AKEYS_H
#define WEFT_AUTOSSH_AKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AKEYS_MARK "weft-tunnel:"

struct akey {
  char tunnel_id[32];
  uint16_t forward_port;
  char key[2100];       /* "TYPE BASE64" */
  int64_t expires_at;   /* wall-clock seconds */
};

/* Formats k as one line with its newline. 0, or -1 if it does not fit or
 * a field is not plain. */
int akeys_format(const struct akey *k, char *out, size_t outlen);

/* Reads back a line akeys_format wrote (anything else: -1, the line is not
 * ours). The line has no newline. */
int akeys_parse(const char *line, struct akey *out);

/* Rewrites the file: every line that is not ours as it was, then ours
 * (keys[0..n)), through a temporary file renamed over it, keeping the
 * original's owner and mode (0600 and owner_uid/gid for a new file). */
int akeys_write_file(const char *path, const struct akey *keys, size_t n,
                     int owner_uid, int owner_gid, char *why, size_t whylen);

/* Calls cb for each of our lines found in the file. 0, or -1 if it cannot
 * be read (a missing file has no lines). */
int akeys_read_file(const char *path,
                    void (*cb)(void *arg, const struct akey *k), void *arg,
                    char *why, size_t whylen);

#endif
