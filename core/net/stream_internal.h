/* What the three parts of the stream implementation share: stream.c (the
 * stream, reading, writing, pipes), stream_tls.c (TLS under a stream) and
 * stream_connect.c (dialling). Nothing else includes this, and every function
 * it declares is named stream__ (libuv's uv__ habit): a reader sees at the
 * call that it is private to the stream files. */
#ifndef WEFT_CORE_STREAM_INTERNAL_H
#define WEFT_CORE_STREAM_INTERNAL_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "net/stream.h"
#include "base/strbuf.h"
#include "net/tls_ctx.h"

enum mode { MODE_NEW, MODE_RAW, MODE_PIPE };

struct weft_pipe {
  struct weft_stream *stream;
};

/* Bytes on their way to the socket: one uv_write, filled in place. */
struct write_req {
  uv_write_t req;
  struct weft_stream *s;
  size_t len, cap;
  char data[];
};

/* TLS under a stream (stream_tls.c). OpenSSL reads ciphertext straight from
 * the buffer the socket filled and writes records straight into a write
 * request: no memory BIOs in between. */
struct tls_state {
  SSL *ssl;
  bool established;
  bool client;
  bool draining;           /* in stream__tls_drain: no re-entry */
  const char *in;          /* ciphertext OpenSSL has not read yet */
  size_t in_len;
  char *saved;             /* ... kept here when the reader paused */
  size_t saved_len;
  struct write_req *out;   /* records made by the current SSL call */
  char pin[TLS_FINGERPRINT_HEX + 1]; /* client: the server cert required */
  weft_connect_cb cb;      /* client: told once the handshake is done */
  void *cb_ctx;
};

struct weft_stream {
  uv_tcp_t *tcp;            /* its own allocation: freed in its close cb */
  uv_loop_t *loop;
  enum mode mode;
  /* raw */
  const struct weft_stream_cbs *cbs;
  void *ctx;
  /* relayed */
  const struct weft_pipe_ops *ops;
  void *pctx;
  struct weft_pipe pipe;

  size_t backlog;           /* bytes queued to the socket, not yet written */
  uint64_t stalled_since;   /* loop ms: backlog without a write done since */
  bool paused_by_plugin;    /* stream_pause(true) */
  bool paused_by_backlog;   /* the far end's backlog is high */
  bool reading;
  bool read_eof;            /* the peer sent FIN */
  bool shutdown_sent;       /* we sent FIN */
  bool closing;
  bool close_when_flushed;  /* stream_end: close once FIN is sent */
  int close_err;
  char *leftover;           /* bytes read before the stream was handed on */
  size_t leftover_len;
  struct stream_account account;
  /* An optional filter between the socket and the reader (the HTTP
   * ingress rewrites request heads); it hands bytes on with stream_emit. */
  void (*filter)(void *fctx, const char *data, size_t len);
  void (*filter_free)(void *fctx);
  void *fctx;
  bool http;
  char *http_host;
  bool pipe_wrote;          /* the far end wrote: an answer has begun */
  void (*fail_answer)(void *fctx, int err); /* see stream_set_fail_answer */
  void (*answer_peek)(void *fctx, const char *data, size_t len);
  bool input_ended;         /* stream_end_input: the far end hears an end */
  struct strbuf final_words; /* written after the far end's answers */
  char peer_ip[46], local_ip[46];
  uint16_t peer_port, local_port;
  struct tls_state *tls;    /* NULL: plain TCP */
  SSL_CTX *sniff_ctx;       /* server: TLS if the first byte says so */
  uv_timer_t *deadline;     /* a dial's: TCP connect and TLS handshake */
  /* What was written before the stream could carry it (TLS not yet
   * decided or not yet established); a shutdown asked for meanwhile. */
  struct strbuf held;
  bool shutdown_held;
  /* Writes gathered while the core handles one event (stream.c). */
  struct write_req *pending;
  struct weft_stream *flush_next;
  bool flush_listed;
};

/* ---- stream.c ---- */
struct weft_stream *stream__new(uv_loop_t *loop);
/* Frees a stream whose socket was never initialised (no uv_close). */
void stream__free(struct weft_stream *s);
void stream__fill_addresses(struct weft_stream *s);
int stream__uv_error(int uverr);
void stream__close_with(struct weft_stream *s, int err);
void stream__update_reading(struct weft_stream *s);
/* Plaintext from the peer: through the filter, if any, to the reader. */
void stream__plaintext_in(struct weft_stream *s, const char *data, size_t len);
void stream__on_eof(struct weft_stream *s);
/* The stream can carry bytes now: what was held goes, then any shutdown. */
void stream__release_held(struct weft_stream *s);
/* Queues a filled write request on the socket (it owns it from then on). */
void stream__submit(struct weft_stream *s, struct write_req *wr);
struct write_req *stream__write_req_new(struct weft_stream *s, size_t cap);
/* Room for `room` more bytes in *wr (made if NULL, else grown); false
 * when out of memory. */
bool stream__write_req_reserve(struct weft_stream *s, struct write_req **wr,
                       size_t room);
/* Appends to *wr, growing it; false when out of memory. */
bool stream__write_req_append(struct weft_stream *s, struct write_req **wr,
                      const void *data, size_t len);
/* Events the core handles are batches: writes made during one go out
 * together when it ends. */
void stream__batch_begin(void);
void stream__batch_end(void);

/* ---- stream_tls.c ---- */
int stream__tls_start(struct weft_stream *s, SSL_CTX *ctx, bool client,
              const char *sni);
void stream__tls_free(struct tls_state *t);
/* True until TLS is decided (server) and established: writes wait. */
bool stream__tls_waiting(const struct weft_stream *s);
/* Ciphertext from the socket. */
void stream__tls_in(struct weft_stream *s, const char *data, size_t len);
/* Hands on what TLS holds while the reader wants it. */
void stream__tls_drain(struct weft_stream *s);
/* Encrypts and sends (established only); false on a TLS failure. */
bool stream__tls_write(struct weft_stream *s, const void *data, size_t len);
/* Encrypts, leaving the records for stream__tls_send_records: a round's writes
 * leave in one request. */
bool stream__tls_encrypt(struct weft_stream *s, const void *data, size_t len);
void stream__tls_send_records(struct weft_stream *s);
/* Bytes of records made and not yet sent. */
size_t stream__tls_unsent(const struct weft_stream *s);
/* close_notify before our FIN. */
void stream__tls_close_notify(struct weft_stream *s);
/* Client: starts the handshake on a connected stream. */
void stream__tls_begin_handshake(struct weft_stream *s);
/* The peer hung up: true if that was in the middle of a handshake (and was
 * dealt with). */
bool stream__tls_eof_in_handshake(struct weft_stream *s);

/* ---- stream_connect.c ---- */
/* Tells whoever dialled how it went: once, with the stream or without. */
void stream__connect_done(struct weft_stream *s, int status);
void stream__deadline_stop(struct weft_stream *s);

#endif
