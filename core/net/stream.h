/* Core byte streams over libuv TCP, and the relay (pipes) between a stream
 * and a plugin's far end: the implementation of sdk/weft/stream.h. */
#ifndef WEFT_CORE_STREAM_H
#define WEFT_CORE_STREAM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <weft/host.h>
#include <weft/stream.h>

/* Traffic accounting a stream reports to its owner (a tunnel, for its
 * metrics and its idle timer). */
struct stream_account {
  void (*on_traffic)(void *arg, size_t in, size_t out);
  void (*on_close)(void *arg); /* the stream is gone */
  void *arg;
};

/* Accounting for the streams stream_connect dials from now on: hook (arg,
 * hostname, port, out) may fill *out (zeroed before) for the new stream.
 * The agent counts bytes to each tunnel's local service this way. One
 * hook per process; NULL removes it. */
void stream_set_dial_account(void (*hook)(void *arg, const char *hostname,
                                          uint16_t port,
                                          struct stream_account *out),
                             void *arg);

/* Accepts a connection from a listening socket; NULL on failure. The
 * stream reads nothing until it is started or piped. */
struct weft_stream *stream_accept(uv_loop_t *loop, uv_stream_t *server);
/* The same from a listening Unix socket (listen_local): its peer and
 * local addresses read "local". */
struct weft_stream *stream_accept_local(uv_loop_t *loop, uv_stream_t *server);
/* A stream over a file descriptor the caller opened (a pseudo-terminal's
 * master side): it owns fd from now on, and closes it with the stream,
 * also when it fails (NULL). Its addresses read `label`. Never shut it
 * down (a terminal has no half-close): close it. */
struct weft_stream *stream_open_fd(uv_loop_t *loop, int fd, const char *label);
/* Detaches a raw stream from its callbacks (no more are called) so that it
 * can be started or piped by someone else; `leftover` bytes already read
 * are delivered to the new user first. Used when an HTTP connection is
 * upgraded and handed to a transport. */
void stream_handover(struct weft_stream *s, const void *leftover, size_t len);
/* The owner's accounting; may be NULL. */
void stream_set_account(struct weft_stream *s, const struct stream_account *a);
/* Puts a filter between the socket and whoever reads the stream: socket
 * bytes go to filter(), which passes on what it wants with stream_emit().
 * Bytes given as leftover to stream_handover bypass the filter.
 * filter_free(fctx), if set, runs when the stream is gone. */
void stream_set_filter(struct weft_stream *s,
                       void (*filter)(void *fctx, const char *data,
                                      size_t len),
                       void (*filter_free)(void *fctx), void *fctx);
void stream_emit(struct weft_stream *s, const char *data, size_t len);

/* Caps what the kernel holds unsent for the peer (SO_SNDBUF, bytes):
 * for a stream that should feel a slow reader soon (an event stream). */
void stream_set_send_buffer(struct weft_stream *s, int bytes);

/* Marks a public HTTP stream (for stream_info). */
void stream_set_http(struct weft_stream *s, const char *host);

/* For a piped stream whose far end may fail before it answers (a public
 * HTTP request): when the pipe is closed with an error, or shut down,
 * before the far end wrote a byte, fail_answer(fctx, err) runs instead of
 * the close or the shutdown, and answers with stream_answer (the HTTP
 * port's 502 page). fctx is the filter's (stream_set_filter). */
void stream_set_fail_answer(struct weft_stream *s,
                            void (*fail_answer)(void *fctx, int err));
/* For a piped stream: peek(fctx, data, len) sees what the far end sends
 * before it is written (the HTTP port reads a response's status line
 * there); NULL stops it. fctx is the filter's. */
void stream_set_answer_peek(struct weft_stream *s,
                            void (*peek)(void *fctx, const char *data,
                                         size_t len));
/* For a piped stream whose filter takes nothing more from the peer (the
 * HTTP port after a request it will not forward): reading stops, the far
 * end hears the end of input as if the peer had finished sending (at once,
 * or once a pipe is attached), and when the far end has answered and
 * finished too, `final` (may be empty) is written before the FIN. */
void stream_end_input(struct weft_stream *s, const void *final, size_t len);
/* How long bytes have waited for the peer to read with no write done:
 * 0 when nothing waits. A peer that reads nothing, or a byte now and then,
 * stalls; one that reads makes whole writes complete. */
uint64_t stream_send_stalled_ms(const struct weft_stream *s);
/* True once the far end of a piped stream wrote to it. */
bool stream_answered(const struct weft_stream *s);
/* Writes `data` in place of the far end's answer: nothing more is read,
 * and the stream closes once it is sent; whoever holds it (a pipe) hears
 * the close as usual. */
void stream_answer(struct weft_stream *s, const void *data, size_t len);

/* Says `data` and closes once it is written (whatever the peer does),
 * with no callbacks: for refusals on a stream nobody took. */
void stream_end(struct weft_stream *s, const void *data, size_t len);

/* Server side: if the first byte from the peer opens a TLS record, the
 * stream speaks TLS with ctx (invisible to whoever reads it). */
void stream_set_tls_sniff(struct weft_stream *s, SSL_CTX *ctx);
/* Server side, on a handed-over stream (stream_handover) whose first
 * bytes the caller already read to look at the ClientHello: the stream
 * speaks TLS with ctx from here on, those bytes first. 0, or a code (the
 * stream is then closing). */
int stream_begin_server_tls(struct weft_stream *s, SSL_CTX *ctx,
                            const void *first, size_t len);
/* The RFC 9266 channel binding of a TLS stream: its length, or -1 when the
 * stream is plain. */
int stream_tls_binding(struct weft_stream *s, unsigned char *out, size_t len);

/* How long a dial (TCP connect, then the TLS handshake) may take. */
#define STREAM_CONNECT_TIMEOUT_MS 15000
/* For tests: another limit for dials started from now on. */
void stream_set_connect_timeout(uint64_t ms);

/* A stream nobody took: close it without callbacks. */
void stream_discard(struct weft_stream *s);

/* Writes made during one round of the loop (the I/O callbacks of one
 * poll) go out together at its end. Once per process, on its one loop;
 * stop before the loop's last run (the handles must close). */
void stream_rounds_start(uv_loop_t *loop);
void stream_rounds_stop(void);

/* Streams and pipes still open, for tests and metrics. */
size_t stream_count(void);

/* The host-table functions. */
int stream_start(struct weft_stream *s, const struct weft_stream_cbs *cbs,
                 void *ctx);
size_t stream_write(struct weft_stream *s, const void *data, size_t len);
void stream_pause(struct weft_stream *s, bool paused);
void stream_shutdown(struct weft_stream *s);
void stream_close(struct weft_stream *s);
int stream_info(struct weft_stream *s, struct weft_stream_info *out);
int stream_connect(const struct weft_host *host, const char *hostname,
                   uint16_t port, bool tls, const char *pin_sha256,
                   weft_connect_cb cb, void *ctx);
int pipe_attach(const struct weft_host *host, struct weft_stream *s,
                const struct weft_pipe_ops *ops, void *pctx,
                struct weft_pipe **out);
size_t pipe_send(struct weft_pipe *p, const void *data, size_t len);
void pipe_resume(struct weft_pipe *p);
void pipe_shutdown(struct weft_pipe *p);
void pipe_close(struct weft_pipe *p, int err);

#endif
