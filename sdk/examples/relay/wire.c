/* The relay's protocol texts (see relay.h). */
#include "wire.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

bool wire_new_id(char id[RELAY_ID_LEN + 1])
{
  static const char hex[] = "0123456789abcdef";
  unsigned char bits[RELAY_ID_LEN / 2];
  if (getrandom(bits, sizeof bits, 0) != (ssize_t)sizeof bits)
    return false;
  for (size_t i = 0; i < sizeof bits; i++) {
    id[2 * i] = hex[bits[i] >> 4];
    id[2 * i + 1] = hex[bits[i] & 15];
  }
  id[RELAY_ID_LEN] = '\0';
  return true;
}

bool wire_id_is(const char *text, const char id[RELAY_ID_LEN + 1])
{
  if (strlen(text) != RELAY_ID_LEN)
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < RELAY_ID_LEN; i++)
    diff |= (unsigned char)(text[i] ^ id[i]);
  return diff == 0;
}

size_t wire_request(char *out, size_t size, const char *host, uint16_t port,
                    const char *token, const char *stream_id)
{
  bool v6 = strchr(host, ':') != NULL; /* an IPv6 address: in brackets */
  int n = snprintf(out, size,
                   "GET " RELAY_PATH " HTTP/1.1\r\n"
                   "Host: %s%s%s:%u\r\n"
                   "Connection: Upgrade\r\n"
                   "Upgrade: " RELAY_PROTOCOL "\r\n"
                   "%s%s%s"
                   "\r\n",
                   v6 ? "[" : "", host, v6 ? "]" : "", port,
                   token ? "Authorization: Bearer " : "Weft-Relay-Stream: ",
                   token ? token : stream_id, "\r\n");
  return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int wire_head_feed(struct wire_head *h, const char *data, size_t len,
                   size_t *used)
{
  static const char status[] = "HTTP/1.1 101 ";
  for (size_t i = 0; i < len; i++) {
    if (h->len == sizeof h->text)
      return WIRE_REFUSED;
    h->text[h->len++] = data[i];
    if (h->len >= 4 && !memcmp(h->text + h->len - 4, "\r\n\r\n", 4)) {
      *used = i + 1;
      return h->len >= sizeof status - 1 &&
                     !memcmp(h->text, status, sizeof status - 1)
                 ? WIRE_101
                 : WIRE_REFUSED;
    }
  }
  *used = len;
  return WIRE_MORE;
}

bool wire_lines_feed(struct wire_lines *l, const char *data, size_t len,
                     bool (*line)(void *arg, const char *text), void *arg)
{
  for (size_t i = 0; i < len; i++) {
    if (data[i] != '\n') {
      if (l->len == sizeof l->text - 1)
        return false;
      l->text[l->len++] = data[i];
      continue;
    }
    l->text[l->len] = '\0';
    l->len = 0;
    if (!line(arg, l->text))
      return false;
  }
  return true;
}
