/* WireGuard keys with libsodium: X25519 private keys clamped as WireGuard
 * expects, their public halves, preshared keys, the base64 text `wg(8)`
 * shows, and private key files kept 0600. */
#ifndef WEFT_WG_KEYS_H
#define WEFT_WG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "wg_types.h"

#define WG_KEY_B64_LEN 45 /* 44 characters and the NUL */

/* Call once before any other function here (sodium_init). 0 or -1. */
int wg_keys_init(void);

/* A fresh private key: 32 random bytes, clamped (k[0] &= 248, k[31] &= 127,
 * k[31] |= 64). */
void wg_key_generate(uint8_t priv[WG_KEY_LEN]);
/* A fresh preshared key: 32 random bytes. */
void wg_key_random(uint8_t out[WG_KEY_LEN]);
/* pub = X25519(priv, 9). 0, or -1 (libsodium refused). */
int wg_key_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN]);
/* out = X25519(priv, pub). -1 when the result is all zero (a low-order
 * public key), as WireGuard refuses it too. */
int wg_key_shared(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
                  const uint8_t pub[WG_KEY_LEN]);

void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN]);
/* Exactly 44 characters of standard base64 (with its one '=') that decode
 * to 32 bytes; 0 or -1. */
int wg_key_from_base64(const char *text, uint8_t key[WG_KEY_LEN]);

/* Reads the private key at path (one base64 line), or creates it (mode
 * 0600, written atomically) if there is none. A file that group or others
 * may read, or that does not hold one key, is refused: -1 with why. */
int wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN],
                          char *why, size_t whylen);

#endif
