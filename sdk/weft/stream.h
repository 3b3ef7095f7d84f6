/* Weft SDK: byte streams and the stream relay.
 *
 * A `struct weft_stream` is a connection the core owns: a public client's
 * connection on the server, a device's session on the control port (after
 * an HTTP upgrade), the device's dial to its server, or its connection to
 * the local service. The core does the sockets (and TLS); a plugin sees
 * bytes.
 *
 * A stream is used in one of two ways:
 *
 *  - raw: host->stream_start() with callbacks; the plugin reads and writes
 *    the bytes itself (a transport's own session, e.g. a WebSocket);
 *  - relayed: host->pipe_attach() joins the stream to the plugin's far end
 *    (e.g. one HTTP/2 stream inside the session). The core moves the bytes
 *    both ways with backpressure, counts them for the tunnel's metrics and
 *    idle timer, and handles half-close and teardown.
 *
 * Backpressure, both directions, never unbounded buffering:
 *   socket -> far end: the core hands bytes to ops->write(), which returns
 *     how many bytes the plugin now holds unsent. Above WEFT_PIPE_HIGH_WATER
 *     the core stops reading the socket until the plugin calls
 *     host->pipe_resume() (when it has sent enough).
 *   far end -> socket: host->pipe_send() returns how many bytes the core
 *     holds unwritten to the socket. Above WEFT_PIPE_HIGH_WATER the plugin
 *     stops taking more from its peer (e.g. withholds HTTP/2 window) until
 *     ops->drained() is called.
 */
#ifndef WEFT_STREAM_H
#define WEFT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_PIPE_HIGH_WATER (256 * 1024)
#define WEFT_PIPE_LOW_WATER (64 * 1024)

struct weft_stream; /* owned by the core */
struct weft_pipe;   /* owned by the core */

/* What the core knows of a stream. Strings are valid while it lives. */
struct weft_stream_info {
  uint32_t struct_size;   /* set by the caller to sizeof */
  char peer_ip[46];
  uint16_t peer_port;
  char local_ip[46];
  uint16_t local_port;
  bool tls;               /* the core terminates TLS on it */
  /* Public HTTP connections: what the core's ingress routed on. */
  bool http;              /* requests are rewritten by the core */
  const char *http_host;  /* the Host the first request named, or NULL */
};

/* Raw use. Each callback gets the ctx given to stream_start. After
 * on_closed nothing more is called and the stream is gone. */
struct weft_stream_cbs {
  void (*on_read)(void *ctx, const void *data, size_t len);
  void (*on_eof)(void *ctx);             /* the peer finished sending */
  void (*on_drained)(void *ctx);         /* write backlog fell below low water */
  void (*on_closed)(void *ctx, int err); /* 0, or why it ended */
};

/* Relayed use: the plugin's far end of one relayed stream. Each op gets the
 * pctx given to pipe_attach. After closed() the pipe is gone. */
struct weft_pipe_ops {
  /* Bytes from the socket for the far end. Return the plugin's backlog. */
  size_t (*write)(void *pctx, const void *data, size_t len);
  /* The socket side finished sending (TCP FIN). */
  void (*shutdown)(void *pctx);
  /* The socket's write backlog fell below WEFT_PIPE_LOW_WATER. */
  void (*drained)(void *pctx);
  /* The socket side is gone (err 0: closed cleanly). Also called, with
   * WEFT_ECANCELED, when the plugin closed the pipe itself. */
  void (*closed)(void *pctx, int err);
};

typedef void (*weft_connect_cb)(void *ctx, struct weft_stream *stream,
                                int status);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_STREAM_H */
