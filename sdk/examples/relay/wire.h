/* The relay's few protocol texts, and readers for what comes back. */
#ifndef RELAY_WIRE_H
#define RELAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay.h"

/* The server's answer to either upgrade. */
#define WIRE_SWITCHING                                                       \
  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"              \
  "Upgrade: " RELAY_PROTOCOL "\r\n\r\n"

/* A fresh stream id: RELAY_ID_LEN random hex digits. false if the system
 * has no randomness to give. */
bool wire_new_id(char id[RELAY_ID_LEN + 1]);

/* Whether text is a well-formed id equal to id, in time that does not
 * depend on where they differ. */
bool wire_id_is(const char *text, const char id[RELAY_ID_LEN + 1]);

/* The device's upgrade request to host:port: the control connection's
 * (with token) or a data connection's (with stream_id). Its length, or 0
 * if it does not fit in out. */
size_t wire_request(char *out, size_t size, const char *host, uint16_t port,
                    const char *token, const char *stream_id);

/* Reads an HTTP response head, for the device. */
struct wire_head {
  char text[1024];
  size_t len;
};
enum { WIRE_MORE = 0, WIRE_101 = 1, WIRE_REFUSED = -1 };
/* Takes bytes of data up to the head's end: WIRE_MORE (all taken),
 * WIRE_101 (*used bytes were the head; the rest is the stream's), or
 * WIRE_REFUSED (not a 101, or a head too long). */
int wire_head_feed(struct wire_head *h, const char *data, size_t len,
                   size_t *used);

/* Splits the control connection into lines. */
struct wire_lines {
  char text[64];
  size_t len;
};
/* Calls line(arg, text) for each complete line (text without its "\n").
 * false, and no more lines, when line() returns false or a line is too
 * long for any message: a broken peer. */
bool wire_lines_feed(struct wire_lines *l, const char *data, size_t len,
                     bool (*line)(void *arg, const char *text), void *arg);

#endif /* RELAY_WIRE_H */
