/* A device's own key pair (Ed25519, libsodium): made on the device the
 * first time it logs in, kept 0600 in its state directory, and used to
 * sign every login. The server binds a device id to the first key that
 * logs in as it (trust on first use); from then on no other key, and no
 * secret alone, logs in as that id (docs/security.md).
 *
 * The key file is text: "weft-device-key 1", a newline, the 32-byte seed
 * in base64url (43 characters), a newline. */
#ifndef WEFT_CORE_DEVICE_KEY_H
#define WEFT_CORE_DEVICE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVICE_KEY_PUBLIC_LEN 32
#define DEVICE_KEY_SIG_LEN 64
#define DEVICE_KEY_FILE_MAX 128
/* "2f1c-9ab0-..." : 16 bytes of BLAKE2b of the public key, in hex groups */
#define DEVICE_KEY_FINGERPRINT_LEN 40

struct device_key {
  uint8_t public_key[DEVICE_KEY_PUBLIC_LEN];
  uint8_t secret_key[64]; /* libsodium's: the seed, then the public key */
};

/* Reads a key file's text. 0, or -1 with why (never echoing the text). */
int device_key_parse(const char *text, size_t len, struct device_key *out,
                     const char **why);

/* Loads the key at path: 1, 0 when there is none, or -1 with err naming
 * the file and what is wrong (unreadable, not a key, readable by
 * others). */
int device_key_load(const char *path, struct device_key *out, char *err,
                    size_t errlen);

/* Loads the key at path, or makes one there (0600, its directory 0700)
 * when there is none. 0 (*created says which), or -1 with err naming the
 * file and what is wrong: unreadable, not a key, or readable by others. */
int device_key_load_or_create(const char *path, struct device_key *out,
                              bool *created, char *err, size_t errlen);

/* What a device signs at login: a label, both nonces, the TLS channel
 * binding and the device id, each with its length, so that a signature
 * made for one login, connection or id is worth nothing for another.
 * Returns the length written (0 if out is too small). */
size_t device_key_login_message(const uint8_t *client_nonce,
                                const uint8_t *server_nonce, size_t nonce_len,
                                const uint8_t *binding, size_t binding_len,
                                const char *device_id, uint8_t *out,
                                size_t outlen);

/* What a device signs to enroll with a one-time token (auth/
 * enrollment.h): its own label, the token, the TLS channel, the id. */
size_t device_key_enroll_message(const uint8_t *token, size_t token_len,
                                 const uint8_t *binding, size_t binding_len,
                                 const char *device_id, uint8_t *out,
                                 size_t outlen);

/* What a device's new key signs to replace its old one while logged in
 * (weft device rotate): its own label, the old public key, the TLS
 * channel, the id. */
size_t device_key_rotate_message(const uint8_t old_key[DEVICE_KEY_PUBLIC_LEN],
                                 const uint8_t *binding, size_t binding_len,
                                 const char *device_id, uint8_t *out,
                                 size_t outlen);

int device_key_sign(const struct device_key *k, const uint8_t *msg,
                    size_t len, uint8_t sig[DEVICE_KEY_SIG_LEN]);
/* 0 when sig is public_key's signature of msg. */
int device_key_verify(const uint8_t public_key[DEVICE_KEY_PUBLIC_LEN],
                      const uint8_t *msg, size_t len,
                      const uint8_t sig[DEVICE_KEY_SIG_LEN]);

/* A short, readable name of a public key, for logs and the audit trail. */
void device_key_fingerprint(const uint8_t public_key[DEVICE_KEY_PUBLIC_LEN],
                            char out[DEVICE_KEY_FINGERPRINT_LEN]);

#endif
