/* Many connections inside one session: each relayed connection is an
 * HTTP/2 stream (nghttp2), which gives per-stream flow control, a limit on
 * concurrent streams, PING keepalives and graceful GOAWAY.
 *
 * The server's side opens streams (it is the HTTP/2 client: a public
 * connection arrived); the device's side accepts them (it is the HTTP/2
 * server, and connects each stream to its local service). A stream is a
 * CONNECT request; the answer's :status says whether the device reached its
 * service (200) or not (502). END_STREAM is a half-close, RST_STREAM an
 * abort.
 *
 * Backpressure: a stream's HTTP/2 receive window is only given back
 * (nghttp2_session_consume) once the bytes went to the socket and its
 * backlog is low, so a slow reader slows the writer; what a socket sends is
 * held per stream up to WEFT_PIPE_HIGH_WATER before the socket is paused. */
#ifndef WEFT_WS_MUX_H
#define WEFT_WS_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <weft/weft.h>

#define MUX_STREAM_WINDOW (256 * 1024)
/* The device's, larger: with 256 KiB (WINDOW_UPDATE at half of it, and
 * ~64 KiB messages) only two messages were ever in flight and both ends
 * sat waiting; 2 MiB lifted wss throughput 25-45% in bench/run.sh. The
 * session window (16 MiB) still bounds what a device holds in all. */
#define MUX_DEVICE_STREAM_WINDOW (2 * 1024 * 1024)
#define MUX_SESSION_WINDOW (16 * 1024 * 1024)
#define MUX_MAX_MESSAGE (128 * 1024)
#define MUX_MAX_FRAME (64 * 1024)
/* A peer's PING, SETTINGS and PRIORITY frames each cost a parse and most
 * an answer; our own peer sends a PING per ping interval and SETTINGS
 * once. More than this many in one second is a flood (nghttp2's and
 * HAProxy's guards judge alike): the session ends, ENHANCE_YOUR_CALM. */
#define MUX_CONTROL_PER_S 100

struct mux;
struct mux_stream;

/* The most pieces one send carries: a DATA frame goes as its header and
 * the stream's queued bytes where they lie (nghttp2's NO_COPY), not copied
 * into one buffer first, unless they lie in more chunks than this. */
#define MUX_MAX_PIECES 17

struct mux_cbs {
  /* Session bytes for the peer, in order, in at most MUX_MAX_PIECES
   * pieces valid only during the call: one message where the carrier has
   * messages. Returns the carrier's backlog. */
  size_t (*send)(void *arg, const struct iovec *pieces, size_t count);
  /* The carrier's backlog right now. */
  size_t (*backlog)(void *arg);
  /* Device side: the server opened a stream; connect it to the local
   * service and answer with mux_accept or mux_refuse. */
  void (*on_stream)(void *arg, struct mux_stream *ms);
  /* The session broke (bad frames, GOAWAY with an error, a flood: see
   * mux_flooded): close it. */
  void (*on_failure)(void *arg, const char *why);
  /* A PING answer arrived. */
  void (*on_pong)(void *arg);
};

/* opener: the server's side. max_streams: concurrent streams the
 * accepting side allows. NULL when out of memory. */
struct mux *mux_new(const struct weft_host *host, bool opener,
                    uint32_t max_streams, const struct mux_cbs *cbs,
                    void *arg);
/* Ends the session: every stream's connection is closed (reset). */
void mux_free(struct mux *m);

/* Session bytes from the peer. 0, or -1 if the session is broken. */
int mux_input(struct mux *m, const uint8_t *data, size_t len);
/* The session broke because the peer flooded it (control frames over
 * MUX_CONTROL_PER_S, or more acknowledgements owed than nghttp2 queues):
 * abuse, not a fault. */
bool mux_flooded(const struct mux *m);
/* Writes what nghttp2 has to send while the carrier has room. */
void mux_flush(struct mux *m);

/* Server side: carries a public connection as a new stream. */
int mux_open(struct mux *m, struct weft_stream *conn);
/* Device side: the local connection for a stream is up (or not). */
void mux_accept(struct mux_stream *ms, struct weft_stream *local);
void mux_refuse(struct mux_stream *ms);
/* Device side: the peer the server saw ("ip:port"), for the log. */
const char *mux_stream_peer(const struct mux_stream *ms);

void mux_ping(struct mux *m);
/* Asks the peer to open no more streams; those open may finish. */
void mux_goaway(struct mux *m);
size_t mux_stream_count(const struct mux *m);
/* Totals since the session began. */
void mux_totals(const struct mux *m, uint64_t *streams, uint64_t *bytes_in,
                uint64_t *bytes_out);

#endif
