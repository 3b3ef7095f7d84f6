#include "server/terminal_msg.h"

#include <string.h>

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* A window size the terminal can take: 1..1000 each way. */
static const char *size_at(const uint8_t *p, size_t len, struct terminal_msg *m)
{
  if (len < 4)
    return "a window size is 4 bytes: columns and rows";
  m->cols = be16(p);
  m->rows = be16(p + 2);
  if (m->cols < 1 || m->cols > 1000 || m->rows < 1 || m->rows > 1000)
    return "a window size must be 1-1000 columns and rows";
  return NULL;
}

const char *terminal_msg_decode(const uint8_t *data, size_t len,
                                struct terminal_msg *m)
{
  memset(m, 0, sizeof *m);
  if (len == 0)
    return "an empty message came";
  m->type = data[0];
  data++, len--;
  const char *why;
  switch (m->type) {
  case TERMINAL_MSG_DATA:
    m->bytes = data;
    m->len = len;
    return NULL;
  case TERMINAL_MSG_SIZE:
    if (len != 4)
      return "a window size message was not 4 bytes of sizes";
    return size_at(data, len, m);
  case TERMINAL_MSG_START:
    if ((why = size_at(data, len, m)))
      return why;
    m->bytes = data + 4;
    m->len = len - 4;
    return m->len > TERMINAL_CSRF_MAX ? "the start message was too long"
                                      : NULL;
  default:
    return "a message of an unknown kind came";
  }
}
