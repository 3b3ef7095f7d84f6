/* API keys: how a person (an operator or administrator) calls the control
 * API with curl, `Authorization: Bearer KEY`, no client-side crypto.
 *
 *   weft_0123456789abcdef.<43 base64url characters>
 *
 * The 16 hex digits are the key's id, public, by which the server finds
 * its owner; the rest is 256 random bits of which the server keeps only
 * the SHA-256, compared in constant time. */
#ifndef WEFT_AUTH_API_KEY_H
#define WEFT_AUTH_API_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_KEY_PREFIX "weft_"
#define API_KEY_ID_LEN 16      /* hex digits */
#define API_KEY_SECRET_LEN 32  /* bytes */
#define API_KEY_TEXT_LEN (5 + API_KEY_ID_LEN + 1 + 43)
#define API_KEY_HASH_LEN 32

struct api_key {
  char id[API_KEY_ID_LEN + 1];
  uint8_t hash[API_KEY_HASH_LEN]; /* SHA-256 of the secret part */
};

/* A new key: its text (out, API_KEY_TEXT_LEN + 1 bytes, shown once) and
 * what the server keeps of it. 0 or -1. */
int api_key_make(char *out, size_t outlen, struct api_key *kept);

/* Reads a key's text: 0 with its id and hash, or -1 (not a key's form:
 * wrong prefix, length or characters). */
int api_key_parse(const char *text, size_t len, struct api_key *out);

/* Whether a presented key matches the one kept (same id, same hash),
 * in time that does not depend on where they differ. */
bool api_key_matches(const struct api_key *presented,
                     const struct api_key *kept);

#endif
