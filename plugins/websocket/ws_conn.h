/* One WebSocket connection (RFC 6455) over a core stream, framed by wslay
 * (but for whole binary messages in one frame: see ws_frame.h):
 * the opening handshake on either side, binary messages both ways with a
 * bounded backlog, and the closing handshake. Text messages are refused
 * (1003, or 1007 when they are not even UTF-8); protocol errors get 1002. */
#ifndef WEFT_WS_CONN_H
#define WEFT_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <weft/weft.h>

/* Largest message either side accepts; frames announcing more are refused
 * (1009) before anything is allocated for them. */
#define WS_MAX_MESSAGE (256 * 1024)
/* Each PING the peer sends is owed a PONG. Our own peers send none (the
 * session's keepalive is HTTP/2's); more than this many in a second is a
 * flood, and the connection is cut off with 1008. */
#define WS_PINGS_PER_S 50
/* What we may owe a peer that does not read, beyond which it is cut off
 * (1008). Legitimate traffic stays far below: HTTP/2 flow control bounds
 * the data to the 16 MiB session window, and the session stops writing at
 * WEFT_PIPE_HIGH_WATER of backlog. */
#define WS_MAX_OWED (32 * 1024 * 1024)
#define WS_PATH_MAX 128

struct ws_conn;

struct ws_conn_cbs {
  void (*on_open)(void *arg);  /* the handshake completed (client side) */
  void (*on_message)(void *arg, const uint8_t *data, size_t len);
  void (*on_drained)(void *arg);  /* the send backlog went low again */
  /* Optional: true when the connection is idle (no streams in it), so
   * per-connection buffers may go until the next message. */
  bool (*idle)(void *arg);
  /* The connection is over: the last callback. code is the close code
   * sent or received (0 if none), why a short reason for the log; 1008
   * when we cut off a peer that abused the connection (a flood, or not
   * reading what it asked for). */
  void (*on_closed)(void *arg, uint16_t code, const char *why);
};

/* What the server learns from a valid upgrade request. */
struct ws_upgrade {
  char key[32];        /* Sec-WebSocket-Key */
  const char *token;   /* Authorization: Bearer ..., points into the req;
                          NULL when there is none */
};

/* Checks an upgrade request (RFC 6455 section 4.2.1). 0, or the HTTP
 * status to refuse it with and a reason. */
int ws_check_upgrade(const struct weft_http_request *req,
                     struct ws_upgrade *out, const char **why);

/* Answers an upgrade: 101 and the WebSocket from then on (server side).
 * On failure the stream is closed; returns 0 or a code. */
int ws_conn_accept(const struct weft_host *host, struct weft_stream *s,
                   const struct ws_upgrade *up, const struct ws_conn_cbs *cbs,
                   void *arg, struct ws_conn **out);

/* Refuses an upgrade with an HTTP status and closes the stream. */
void ws_refuse(const struct weft_host *host, struct weft_stream *s,
               int status, const char *why);

/* Opens a WebSocket on a connected stream (client side): sends the upgrade
 * request with the token and waits for 101; on_open or on_closed follows. */
int ws_conn_dial(const struct weft_host *host, struct weft_stream *s,
                 const char *host_header, const char *path, const char *token,
                 const struct ws_conn_cbs *cbs, void *arg,
                 struct ws_conn **out);

/* Sends one binary message made of the pieces in order (read only during
 * the call); returns the backlog in bytes. */
size_t ws_conn_sendv(struct ws_conn *c, const struct iovec *pieces,
                     size_t count);
size_t ws_conn_backlog(const struct ws_conn *c);
/* Starts the closing handshake; on_closed follows. */
void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason);
/* Drops the connection at once; on_closed follows. */
void ws_conn_abort(struct ws_conn *c);

#endif
