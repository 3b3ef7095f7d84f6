/* Weft SDK: the services the core hands to a plugin.
 *
 * A plugin links against nothing in Weft. Everything it may use from the core
 * comes through this table, which the core passes to create() and which stays
 * valid until the plugin is unloaded: after destroy() the core runs the loop
 * until the plugin's streams, dials and handles have made their last
 * callback, and those callbacks may still use it to free, log and close
 * (but start nothing new: no timers, streams or dials). Each loaded plugin
 * gets its own table (so log lines carry the plugin's name); never share
 * one between plugins.
 *
 * Versioning: the table starts with the ABI it was built for and its own size.
 * Fields are only ever appended. A plugin built against a newer SDK minor than
 * the running core must check WEFT_HOST_HAS(host, field) before it calls a
 * function that minor added; a NULL function pointer means "not provided".
 *
 * Threads: every function here must be called on the loop's thread.
 *
 * Changelog of this struct:
 *   1.0  loop, log, memory, timers, clock, orchestration-token checks,
 *        streams and the stream relay (sdk/weft/stream.h); reserved slots
 *        for the core services still to come.
 *   1.1  datagram_send.
 *   1.2  state_dir, tunnel_state.
 *   1.3  pool, server_address, lease_touch (in three reserved slots).
 *   1.5  audit (in a reserved slot).
 *   1.6  token_renew_start (in a reserved slot).
 */
#ifndef WEFT_HOST_H
#define WEFT_HOST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <weft/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s; /* libuv's loop; include <uv.h> yourself to use it */
struct weft_timer; /* opaque, owned by the core */

/* A public UDP peer of a tunnel: whom a datagram came from (server_datagram)
 * and whom datagram_send answers. */
struct weft_udp_peer {
  char ip[46];   /* text form, IPv4 or IPv6 */
  uint16_t port;
};

enum weft_log_level {
  WEFT_LOG_ERROR = 0,
  WEFT_LOG_WARN = 1,
  WEFT_LOG_INFO = 2,
  WEFT_LOG_DEBUG = 3,
};

typedef void (*weft_timer_cb)(void *arg);
/* token_renew_start's answer: rc as token_renew returns it, and the token
 * when rc is 0 (valid during the call only: copy it). */
typedef void (*weft_token_cb)(void *arg, int rc, const char *token);

/* What a verified orchestration token says. */
struct weft_token_claims {
  uint32_t struct_size;  /* set by the caller to sizeof */
  char device_id[64];
  char tunnel_id[32];
  char proto[4];         /* "tcp"/"udp" with port, or "" */
  uint16_t port;         /* the leased public port, or 0 */
  char hostname[254];    /* the leased host name, or "" */
  int64_t expires_at;    /* wall-clock seconds */
};

/* Where a client tunnel stands (host->tunnel_state). */
enum weft_tunnel_phase {
  WEFT_TUNNEL_CONNECTING = 0, /* first attempt under way */
  WEFT_TUNNEL_UP = 1,         /* carrying traffic */
  WEFT_TUNNEL_RETRYING = 2,   /* lost or failed; the next attempt is due */
  WEFT_TUNNEL_FAILED = 3,     /* given up: will not try again */
};
struct weft_tunnel_state {
  uint32_t struct_size;        /* set by the caller to sizeof */
  enum weft_tunnel_phase phase;
  uint32_t restarts;           /* attempts after the first */
  const char *detail;          /* why it is not up, or where it is; or NULL */
};

struct weft_host {
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t struct_size;

  /* The plugin's name as the core knows it (its descriptor's name). */
  const char *plugin_name;

  /* The core's event loop. The plugin may add its own handles to it; it must
   * close them all (and let their close callbacks run) before destroy()
   * returns or from destroy() itself: the core runs the loop until every
   * handle is closed before it unloads the plugin. */
  struct uv_loop_s *loop;

  /* Log a line, tagged with the plugin's name. Never fails. */
  void (*log)(const struct weft_host *host, enum weft_log_level level,
              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

  /* Memory: the core's allocator. alloc/calloc/realloc return NULL on
   * failure; free(NULL) is a no-op. Memory from here is freed with free(). */
  void *(*alloc)(size_t size);
  void *(*calloc)(size_t count, size_t size);
  void *(*realloc)(void *ptr, size_t size);
  void (*free)(void *ptr);

  /* Timers. timer_start arms a timer that calls cb(arg) after timeout_ms,
   * then every repeat_ms if repeat_ms > 0. On success *out is set and the
   * plugin owns the timer: it must call timer_stop() exactly once, also for a
   * one-shot timer that has fired. timer_stop() cancels and frees it; cb is
   * never called after timer_stop() returns. If timer_start fails it returns
   * a negative code, *out is untouched and cb is never called.
   * Timers a plugin still holds at destroy() are stopped by the core, with a
   * warning in the log. */
  int (*timer_start)(const struct weft_host *host, uint64_t timeout_ms,
                     uint64_t repeat_ms, weft_timer_cb cb, void *arg,
                     struct weft_timer **out);
  void (*timer_stop)(struct weft_timer *timer);

  /* Milliseconds from the core's clock: monotonic, and replaced by a fake
   * clock in tests, so use it rather than reading the time yourself. */
  uint64_t (*now_ms)(const struct weft_host *host);

  /* Verifies an orchestration token (issued by the server with a tunnel)
   * for this plugin's transport, and spends it: a token admits one session
   * once. Call it before admitting anything from a device. Returns 0 and
   * fills *out, or WEFT_ETOKEN (invalid, expired, for another transport, or
   * already spent) — or WEFT_ENOTSUP where the process is not a server. */
  int (*token_verify)(const struct weft_host *host, const char *token,
                      size_t len, struct weft_token_claims *out);

  /* Client side: a fresh orchestration token for a tunnel this device
   * already holds (tokens admit one session; a transport that reconnects
   * needs a new one). Blocks on the control API (up to its timeout, while
   * nothing else of the process runs): prefer token_renew_start where the
   * core has it. Returns 0 with the
   * token in out, WEFT_ENOENT if the server no longer has the tunnel, or
   * another code (the server is unreachable: try again later). */
  int (*token_renew)(const struct weft_host *host, const char *tunnel_id,
                     char *out, size_t len);

  /* Streams (sdk/weft/stream.h). A stream the core hands a plugin (in
   * server_stream_open, server_upgrade or a connect callback) belongs to
   * the plugin: it closes it, or attaches a pipe to it, and then the pipe
   * owns it. Nothing is read from it before stream_start or pipe_attach.
   * The core keeps the cbs (ops) pointer, not a copy: the struct and ctx
   * (pctx) must stay valid until on_closed (closed) has been called (a
   * static const struct of callbacks does). A stream that is neither
   * started nor attached has no callbacks: closing it calls nothing.
   *
   * stream_start: raw use; the callbacks start at once. 0 or a code.
   * stream_write: queues a copy of data; returns the write backlog (with
 *   len 0, just the backlog).
   * stream_pause: stops (true) or resumes (false) reading.
   * stream_shutdown: sends FIN once the queued bytes are written.
   * stream_close: ends it now; on_closed(WEFT_ECANCELED) follows, later,
   *   from the loop, and is the last callback.
   * stream_connect: dials host:port, with TLS if tls (then pin_sha256, hex
   *   SHA-256 of the server's certificate, is required to match, or NULL
   *   for the system's CAs and the host name). cb(ctx, stream, 0) or
   *   cb(ctx, NULL, error) follows; if stream_connect fails at once, cb is
   *   never called. */
  int (*stream_start)(struct weft_stream *stream,
                      const struct weft_stream_cbs *cbs, void *ctx);
  size_t (*stream_write)(struct weft_stream *stream, const void *data,
                         size_t len);
  void (*stream_pause)(struct weft_stream *stream, bool paused);
  void (*stream_shutdown)(struct weft_stream *stream);
  void (*stream_close)(struct weft_stream *stream);
  int (*stream_info)(struct weft_stream *stream,
                     struct weft_stream_info *out);
  int (*stream_connect)(const struct weft_host *host, const char *hostname,
                        uint16_t port, bool tls, const char *pin_sha256,
                        weft_connect_cb cb, void *ctx);

  /* The relay. pipe_attach joins a stream to the plugin's far end (ops,
   * pctx); from then on the pipe owns the stream. ops->closed() is called
   * exactly once, last, also after pipe_close.
   *
   * pipe_send: bytes from the far end for the socket; returns the socket's
   *   write backlog (stop taking more above WEFT_PIPE_HIGH_WATER until
   *   ops->drained()).
   * pipe_resume: the plugin's own backlog went down: read the socket again.
   * pipe_shutdown: the far end finished sending: FIN to the socket.
   * pipe_close: the far end is gone (err 0: cleanly): close the socket. */
  int (*pipe_attach)(const struct weft_host *host, struct weft_stream *stream,
                     const struct weft_pipe_ops *ops, void *pctx,
                     struct weft_pipe **out);
  size_t (*pipe_send)(struct weft_pipe *pipe, const void *data, size_t len);
  void (*pipe_resume)(struct weft_pipe *pipe);
  void (*pipe_shutdown)(struct weft_pipe *pipe);
  void (*pipe_close)(struct weft_pipe *pipe, int err);

  /* Since 1.1. Server side: sends one datagram from the tunnel's public UDP
   * port to peer (a peer that server_datagram presented: a plugin must not
   * let a device choose addresses). Never blocks or queues: a datagram the
   * socket cannot take now is dropped, as UDP may. 0, WEFT_ENOENT (the
   * tunnel has no UDP port now), WEFT_EINVAL (bad peer or size), WEFT_EIO
   * (dropped). */
  int (*datagram_send)(const struct weft_host *host, const char *tunnel_id,
                       const struct weft_udp_peer *peer, const void *data,
                       size_t len);

  /* Since 1.2. A directory private to this plugin, mode 0700, created
   * before create(): under the server's state directory in `weft server`,
   * under the run directory in `weft tunnel` (keys, sockets, files the
   * plugin must keep from other users). NULL where the process has none. */
  const char *state_dir;

  /* Since 1.2. Client side: reports where one of its tunnels stands, for
   * `weft tunnel status` (tunnel_id as client_tunnel_open was given it).
   * Call it on every change; the core records when the tunnel came up. */
  void (*tunnel_state)(const struct weft_host *host, const char *tunnel_id,
                       const struct weft_tunnel_state *state);

  /* Since 1.3. Server side: the device address pool ("10.1.0.0/16") and
   * the server's own address in it (its top usable address), as the
   * core's leases hand them out. NULL in a client. */
  const char *pool;
  const char *server_address;

  /* Since 1.3. Server side: real traffic reached one of this plugin's
   * tunnels by a way the core's relay does not see (e.g. an operator
   * reaching a device's address directly): resets its idle timer, as
   * public traffic does. Never call it for keepalives. */
  void (*lease_touch)(const struct weft_host *host, const char *tunnel_id);

  /* Since 1.5. Server side: records an event of one of this plugin's
   * tunnels in the server's audit trail (`weft audit`, /v1/audit), e.g.
   * a device session cut off for abuse. event is a short lower-case word
   * or two ("session-cut-off"), detail a plain sentence. Nothing where
   * the core keeps no trail (a client). */
  void (*audit)(const struct weft_host *host, const char *tunnel_id,
                const char *event, const char *detail);

  /* Since 1.6. Client side: token_renew without blocking the loop. Starts
   * asking the server and returns 0: cb(arg, rc, token) follows later,
   * from the loop, exactly once, with what token_renew would have
   * returned. Or returns an error at once, and cb never runs (WEFT_ENOTSUP
   * where the core cannot do it: call token_renew). Closing the tunnel
   * (client_tunnel_close) or destroying the plugin cancels a renewal
   * still under way: its cb never runs after either. */
  int (*token_renew_start)(const struct weft_host *host,
                           const char *tunnel_id, weft_token_cb cb,
                           void *arg);

  /* Room for the core services that later minors add in place of these
   * slots, without changing the struct's size (1.3 took three, 1.5 and 1.6
   * one each).
   * A slot no minor has named yet is NULL; never read one under this
   * name. */
  void *reserved[8];
};

/* True when `host` is new enough to carry `field` (it may still be NULL). */
#define WEFT_HOST_HAS(host, field)                                           \
  (offsetof(struct weft_host, field) + sizeof((host)->field) <=              \
   (host)->struct_size)

/* host->log with a va_list, for code that passes its own printf-style
 * arguments on (a plugin's log wrapper, a library's log callback). Inline,
 * so any core has it: it formats the line here (up to 2 KiB, as the core's
 * log lines are) and logs it as "%s". */
static inline void weft_vlog(const struct weft_host *host,
                             enum weft_log_level level, const char *fmt,
                             va_list ap) __attribute__((format(printf, 3, 0)));
static inline void weft_vlog(const struct weft_host *host,
                             enum weft_log_level level, const char *fmt,
                             va_list ap)
{
  char line[2048];
  vsnprintf(line, sizeof line, fmt, ap);
  host->log(host, level, "%s", line);
}

/* Reports a client tunnel's phase through host->tunnel_state, with its
 * detail formatted printf-style (fmt NULL: none); nothing where the core
 * has no such service. */
static inline void weft_report_tunnel(const struct weft_host *host,
                                      const char *tunnel_id,
                                      enum weft_tunnel_phase phase,
                                      uint32_t restarts, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline void weft_report_tunnel(const struct weft_host *host,
                                      const char *tunnel_id,
                                      enum weft_tunnel_phase phase,
                                      uint32_t restarts, const char *fmt, ...)
{
  if (!host || !WEFT_HOST_HAS(host, tunnel_state) || !host->tunnel_state)
    return;
  char detail[512];
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
  }
  /* Assigned, not designated: the headers are C++17 too. */
  struct weft_tunnel_state state;
  memset(&state, 0, sizeof state);
  state.struct_size = sizeof state;
  state.phase = phase;
  state.restarts = restarts;
  state.detail = fmt ? detail : NULL;
  host->tunnel_state(host, tunnel_id, &state);
}

#ifdef __cplusplus
}
#endif

#endif /* WEFT_HOST_H */
