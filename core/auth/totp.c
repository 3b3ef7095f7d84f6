#include "auth/totp.h"

#include <liboath/oath.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"

static bool oath_ready(void)
{
  static int rc = 1; /* liboath's global set-up, once */
  if (rc == 1)
    rc = oath_init();
  return rc == OATH_OK;
}

int totp_secret_make(char out[TOTP_SECRET_TEXT])
{
  char raw[TOTP_SECRET_BYTES], *text = NULL;
  size_t len = 0;
  crypto_random(raw, sizeof raw);
  int rc = oath_ready() ? oath_base32_encode(raw, sizeof raw, &text, &len)
                        : OATH_CRYPTO_ERROR;
  crypto_wipe(raw, sizeof raw);
  /* 160 bits are 32 base32 characters exactly: no padding. */
  if (rc != OATH_OK || len != TOTP_SECRET_TEXT - 1) {
    free(text);
    return -1;
  }
  memcpy(out, text, len + 1);
  crypto_wipe(text, len);
  free(text);
  return 0;
}

int totp_uri(const char *issuer, const char *account, const char *secret,
             char *out, size_t len)
{
  int n = snprintf(out, len,
                   "otpauth://totp/%s:%s?secret=%s&issuer=%s"
                   "&algorithm=SHA1&digits=%d&period=%d",
                   issuer, account, secret, issuer, TOTP_DIGITS, TOTP_STEP_S);
  return n > 0 && (size_t)n < len ? 0 : -1;
}

int totp_check(const char *secret, const char *code, int64_t now,
               int64_t last_step, int64_t *step)
{
  if (strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS)
    return -1;
  char *raw = NULL;
  size_t raw_len = 0;
  if (!oath_ready() ||
      oath_base32_decode(secret, strlen(secret), &raw, &raw_len) != OATH_OK)
    return -1;
  int pos = 0;
  uint64_t counter = 0;
  int rc = oath_totp_validate3(raw, raw_len, (time_t)now, TOTP_STEP_S, 0,
                               TOTP_WINDOW, &pos, &counter, code);
  crypto_wipe(raw, raw_len);
  free(raw);
  /* A code seen once is spent: the same step (or an older one) again is
   * someone replaying what they watched being typed. */
  if (rc < 0 || (int64_t)counter <= last_step)
    return -1;
  *step = (int64_t)counter;
  return 0;
}
