#include "auth/enrollment.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth/crypto.h"
#include "base/names.h"

int enrollment_format(const struct enrollment *e, char *out, size_t len)
{
  char token[64];
  if (b64url_encode(e->token, sizeof e->token, token, sizeof token) != 43)
    return -1;
  bool v6 = e->host_kind == URL_HOST_IPV6;
  int n = snprintf(out, len, "%s%s@%s%s%s:%u/%s?pin=%s", ENROLL_PREFIX, token,
                   v6 ? "[" : "", e->host, v6 ? "]" : "", e->port,
                   e->device_id, e->pin);
  crypto_wipe(token, sizeof token);
  return n > 0 && (size_t)n < len ? 0 : -1;
}

bool enrollment_pin_valid(const char *s, size_t len)
{
  if (len != 52 || memcmp(s, "sha256//", 8) || s[51] != '=')
    return false;
  for (size_t i = 8; i < 51; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '+' || s[i] == '/'))
      return false;
  return true;
}

int enrollment_parse(const char *text, size_t len, struct enrollment *out,
                     char *err, size_t errlen)
{
  const size_t pre = sizeof ENROLL_PREFIX - 1;
  memset(out, 0, sizeof *out);
  if (len > ENROLL_TEXT_MAX || len < pre || memcmp(text, ENROLL_PREFIX, pre)) {
    snprintf(err, errlen, "an enrollment string starts with %s (weft device "
                          "add prints one)",
             ENROLL_PREFIX);
    return -1;
  }
  const char *p = text + pre, *end = text + len;
  const char *at = memchr(p, '@', (size_t)(end - p));
  size_t n = 0;
  if (!at || at - p != 43 ||
      b64url_decode(p, 43, out->token, sizeof out->token, &n) != 0 ||
      n != sizeof out->token) {
    snprintf(err, errlen, "the enrollment string's token is damaged (it is "
                          "43 characters before the '@')");
    return -1;
  }
  p = at + 1;
  const char *slash = memchr(p, '/', (size_t)(end - p));
  char hostport[URL_MAX_HOST + 16], why[160];
  if (!slash || (size_t)(slash - p) >= sizeof hostport) {
    snprintf(err, errlen, "the enrollment string names no HOST:PORT/DEVICE");
    return -1;
  }
  memcpy(hostport, p, (size_t)(slash - p));
  hostport[slash - p] = '\0';
  if (hostport_parse(hostport, &out->host_kind, out->host, sizeof out->host,
                     &out->port, why, sizeof why) != 0) {
    snprintf(err, errlen, "the enrollment string's server: %s", why);
    return -1;
  }
  p = slash + 1;
  const char *q = memchr(p, '?', (size_t)(end - p));
  size_t id_len = q ? (size_t)(q - p) : 0;
  if (!q || id_len == 0 || id_len >= sizeof out->device_id) {
    snprintf(err, errlen, "the enrollment string names no device id");
    return -1;
  }
  memcpy(out->device_id, p, id_len);
  out->device_id[id_len] = '\0';
  if (!name_is_plain(out->device_id, sizeof out->device_id - 1)) {
    snprintf(err, errlen, "the enrollment string's device id is not 1-63 "
                          "letters, digits, '.', '_' or '-'");
    return -1;
  }
  p = q + 1;
  if ((size_t)(end - p) < 4 || memcmp(p, "pin=", 4) ||
      !enrollment_pin_valid(p + 4, (size_t)(end - p - 4))) {
    snprintf(err, errlen, "the enrollment string ends with pin=sha256// and "
                          "the server key's hash (44 base64 characters)");
    return -1;
  }
  memcpy(out->pin, p + 4, 52);
  out->pin[52] = '\0';
  return 0;
}
