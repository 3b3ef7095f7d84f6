/* A console terminal's messages from the browser (server/terminal.h says
 * what each carries): decoded here, apart from the terminal's state, so
 * that a fuzzer can feed it anything. */
#ifndef WEFT_CORE_TERMINAL_MSG_H
#define WEFT_CORE_TERMINAL_MSG_H

#include <stddef.h>
#include <stdint.h>

#define TERMINAL_MSG_DATA 0x00
#define TERMINAL_MSG_SIZE 0x01
#define TERMINAL_MSG_START 0x02
#define TERMINAL_MSG_END 0x03 /* server -> browser only */
#define TERMINAL_CSRF_MAX 127

struct terminal_msg {
  uint8_t type;
  uint16_t cols, rows;     /* SIZE and START: 1..1000 each */
  const uint8_t *bytes;    /* DATA: keystrokes; START: the CSRF token */
  size_t len;
};

/* Decodes one message: NULL, or a sentence saying what is wrong with it
 * (the terminal then ends with it). m->bytes points into data. */
const char *terminal_msg_decode(const uint8_t *data, size_t len,
                                struct terminal_msg *m);

#endif
