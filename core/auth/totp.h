/* Time-based one-time codes (RFC 6238) as authenticator apps make them:
 * a 160-bit secret shown once as base32 in an otpauth:// URI, HMAC-SHA1,
 * 6 digits, 30-second steps. liboath checks the codes; a code is taken
 * within one step either side of now, and each step's code only once
 * (the caller keeps the last step used). Use from the loop's thread. */
#ifndef WEFT_AUTH_TOTP_H
#define WEFT_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES 20
#define TOTP_SECRET_TEXT 33 /* 32 base32 characters and the NUL */
#define TOTP_DIGITS 6
#define TOTP_STEP_S 30
#define TOTP_WINDOW 1       /* steps either side of now */

/* A new random secret as base32 text: 0, or -1. */
int totp_secret_make(char out[TOTP_SECRET_TEXT]);

/* The otpauth:// URI an app reads (as a QR code or pasted) for account
 * (a plain user name) at issuer (a plain word): 0, or -1 if it does not
 * fit in len. */
int totp_uri(const char *issuer, const char *account, const char *secret,
             char *out, size_t len);

/* Whether code is the secret's code within TOTP_WINDOW steps of now and
 * of a step after last_step (0 for none yet): the step in *step and 0,
 * or -1 (not 6 digits, wrong, or a step already used). */
int totp_check(const char *secret, const char *code, int64_t now,
               int64_t last_step, int64_t *step);

#endif
