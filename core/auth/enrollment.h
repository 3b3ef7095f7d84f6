/* Enrollment strings: how an administrator hands a new device its way in,
 * once, without the server's secret (weft device add ID):
 *
 *   weft-enroll://TOKEN@HOST:PORT/DEVICE_ID?pin=sha256//BASE64
 *
 * TOKEN is 256 random bits (43 base64url characters) that the server keeps
 * only the SHA-256 of, for one use before its expiry; the pin is the
 * SHA-256 of the server's TLS public key as libcurl spells it (RFC 7469's
 * pin-sha256), which is how the device knows it talks to that server (it
 * holds no secret to check a proof with): every request it makes is
 * pinned to it.
 * The device binds its key to DEVICE_ID with it, and then logs in with
 * its key alone. */
#ifndef WEFT_AUTH_ENROLLMENT_H
#define WEFT_AUTH_ENROLLMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/url.h"

#define ENROLL_PREFIX "weft-enroll://"
#define ENROLL_TOKEN_LEN 32 /* bytes */
#define ENROLL_TEXT_MAX 512

struct enrollment {
  uint8_t token[ENROLL_TOKEN_LEN];
  enum url_host_kind host_kind;
  char host[URL_MAX_HOST + 1];
  uint16_t port;
  char device_id[64];
  char pin[64]; /* "sha256//" and 44 base64 characters */
};

/* The string for e (its token made by the caller). 0, or -1 if out is
 * too small. */
int enrollment_format(const struct enrollment *e, char *out, size_t len);

/* Whether s (len bytes) is a pin: "sha256//" and 44 base64 characters. */
bool enrollment_pin_valid(const char *s, size_t len);

/* Reads a string: 0, or -1 with err naming what is wrong. */
int enrollment_parse(const char *text, size_t len, struct enrollment *out,
                     char *err, size_t errlen);

#endif
