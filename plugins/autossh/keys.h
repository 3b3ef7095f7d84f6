/* SSH keys for the weft-as-bastion mode: the device's per-tunnel key pair
 * (made by ssh-keygen, the tool made for it), the pinned known_hosts line,
 * and the checks a public key line must pass before it is written into a
 * file sshd reads. */
#ifndef WEFT_AUTOSSH_KEYS_H
#define WEFT_AUTOSSH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "TYPE BASE64" with a known key type and plain base64, nothing else (no
 * options, no comment, no newline): what may follow our options in an
 * authorized_keys line. A trailing comment in `line` is dropped into out. */
int keys_public_line(const char *line, char *out, size_t outlen, char *why,
                     size_t whylen);

/* Makes DIR/keys/XXXXXX (0700) holding id_ed25519 (+ .pub) by running
 * ssh-keygen without a shell; puts its public line in pub. 0 or -1. */
int keys_generate(const char *keygen_path, const char *state_dir, char *dir,
                  size_t dirlen, char *pub, size_t publen, char *why,
                  size_t whylen);

/* Writes a known_hosts file that trusts exactly host_key for host:port. */
int keys_write_known_hosts(const char *path, const char *host, uint16_t port,
                           const char *host_key, char *why, size_t whylen);

/* Removes what keys_generate made (the files, then the directory). */
void keys_remove_dir(const char *dir);

#endif
