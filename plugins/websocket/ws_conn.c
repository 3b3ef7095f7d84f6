#include "ws_conn.h"

#include <assert.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "ws_frame.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HANDSHAKE_MAX (16 * 1024)
#define CLOSE_TIMEOUT_MS 5000

enum ws_state { WS_HANDSHAKE, WS_OPEN, WS_CLOSING, WS_DONE };

struct ws_conn {
  const struct weft_host *host;
  struct weft_stream *stream;
  wslay_event_context_ptr ws;
  const struct ws_conn_cbs *cbs;
  void *arg;
  enum ws_state state;
  bool client;
  bool notified;             /* on_closed was called */
  uint8_t *in;               /* bytes read, not yet taken by wslay */
  size_t in_len, in_cap;
  const uint8_t *rd;         /* what wslay reads now (see take_input) */
  size_t rd_len, rd_off;
  char *hs;                  /* client: the handshake answer so far */
  size_t hs_len;
  char expect_accept[32];
  size_t stream_backlog;
  uint16_t code;             /* close code sent or received */
  char why[96];
  struct weft_timer *close_timer;
  /* Where the frames wslay was given end (see release_if_idle). */
  uint8_t hdr[14];           /* the header being read */
  size_t hdr_len;
  uint64_t payload_left;     /* of the frame being read */
  bool in_message;           /* a data frame without FIN came */
  unsigned busy;             /* inside wslay_event_recv */
  /* A binary frame read past wslay (see read_frames), while it comes. */
  uint8_t *fast_msg;
  size_t fast_len, fast_have;
  uint8_t fast_key[4];       /* the server's: client frames are masked */
  uint64_t pings_since;      /* when this second of the peer's PINGs began */
  unsigned pings;            /* PINGs in it */
};

/* ---- small helpers ---- */

static void accept_value(const char *key, char out[32])
{
  char buf[64];
  unsigned char digest[20];
  unsigned int n = 0;
  snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
  EVP_Digest(buf, strlen(buf), digest, &n, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char *)out, digest, 20); /* 28 chars + NUL */
}


int ws_check_upgrade(const struct weft_http_request *req,
                     struct ws_upgrade *out, const char **why)
{
  memset(out, 0, sizeof *out);
  const char *upgrade = weft_http_header(req, "upgrade");
  const char *connection = weft_http_header(req, "connection");
  const char *version = weft_http_header(req, "sec-websocket-version");
  const char *key = weft_http_header(req, "sec-websocket-key");
  const char *token = weft_http_bearer(req);
  if (strcmp(req->method, "GET"))
    return *why = "a WebSocket upgrade must be a GET", 400;
  if (!upgrade || !weft_http_has_token(upgrade, "websocket") ||
      !connection || !weft_http_has_token(connection, "upgrade"))
    return *why = "not a WebSocket upgrade", 400;
  if (!version || strcmp(version, "13"))
    return *why = "only WebSocket version 13 is spoken here", 426;
  /* The key is 16 random bytes in base64: 24 characters. */
  unsigned char raw[24];
  if (!key || strlen(key) != 24 ||
      EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 ||
      key[22] != '=' || key[23] != '=')
    return *why = "Sec-WebSocket-Key is not 16 bytes of base64", 400;
  snprintf(out->key, sizeof out->key, "%s", key);
  out->token = token;
  return 0;
}

void ws_refuse(const struct weft_host *host, struct weft_stream *s,
               int status, const char *why)
{
  char resp[512];
  const char *text = status == 401   ? "Unauthorized"
                     : status == 426 ? "Upgrade Required"
                     : status == 503 ? "Service Unavailable"
                     : status == 404 ? "Not Found"
                                     : "Bad Request";
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\n%sConnection: close\r\n\r\n%s\n",
                   status, text, strlen(why) + 1,
                   status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", why);
  if (n > 0 && (size_t)n < sizeof resp)
    host->stream_write(s, resp, (size_t)n);
  host->stream_shutdown(s);
  host->stream_close(s);
}

/* ---- the end of a connection ---- */

static void notify_closed(struct ws_conn *c, const char *why)
{
  if (c->notified)
    return;
  c->notified = true;
  c->state = WS_DONE;
  if (why && !c->why[0])
    snprintf(c->why, sizeof c->why, "%s", why);
  c->cbs->on_closed(c->arg, c->code, c->why);
}

static void stop_close_timer(struct ws_conn *c)
{
  if (c->close_timer) {
    c->host->timer_stop(c->close_timer);
    c->close_timer = NULL;
  }
}

static void close_timed_out(void *arg)
{
  struct ws_conn *c = arg;
  snprintf(c->why, sizeof c->why, "the peer did not finish closing");
  c->host->stream_close(c->stream);
}

/* After the closing handshake (or when it cannot happen): FIN, and the
 * stream's end frees the connection. */
static void finish(struct ws_conn *c)
{
  if (c->state == WS_DONE)
    return;
  c->state = WS_CLOSING;
  c->host->stream_shutdown(c->stream);
  if (!c->close_timer)
    c->host->timer_start(c->host, CLOSE_TIMEOUT_MS, 0, close_timed_out, c,
                         &c->close_timer);
}

/* Ends a connection whose peer abuses it: nothing more of what it sent is
 * read or answered, and the stream ends now, whether or not the peer ever
 * reads our close (one that floods us and never reads would not). */
static void cut_off(struct ws_conn *c, const char *why)
{
  if (c->state == WS_DONE)
    return;
  c->code = WSLAY_CODE_POLICY_VIOLATION;
  snprintf(c->why, sizeof c->why, "%s", why);
  c->state = WS_CLOSING; /* deliver() hands on nothing more */
  if (c->ws) {
    wslay_event_shutdown_read(c->ws);
    wslay_event_shutdown_write(c->ws);
  }
  c->host->stream_close(c->stream);
}

/* ---- wslay glue ---- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf,
                          size_t len, int flags, void *user)
{
  (void)flags;
  struct ws_conn *c = user;
  /* wslay reads only inside feed_wslay, from the bytes it set. */
  assert(c->busy && c->rd_off <= c->rd_len);
  size_t avail = c->rd_len - c->rd_off;
  if (avail == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = avail < len ? avail : len;
  memcpy(buf, c->rd + c->rd_off, n);
  c->rd_off += n;
  return (ssize_t)n;
}

/* Everything either side sends goes through here (wslay's frames too). */
static void write_out(struct ws_conn *c, const void *data, size_t len)
{
  c->stream_backlog = c->host->stream_write(c->stream, data, len);
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                          size_t len, int flags, void *user)
{
  (void)ctx, (void)flags;
  write_out(user, data, len);
  return (ssize_t)len;
}

/* Masking keys come from OpenSSL's CSPRNG, as RFC 6455 asks, but drawn a
 * pool at a time: one RAND_bytes call per frame (each with a getpid for
 * fork safety) cost a device about a tenth of its CPU in bench/vhost.sh.
 * The loop is single-threaded, so one pool serves every connection. */
#define MASK_POOL 4096
static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf,
                         size_t len, void *user)
{
  (void)ctx, (void)user;
  static uint8_t pool[MASK_POOL];
  static size_t left;
  if (len > MASK_POOL)
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
  if (left < len) {
    if (RAND_bytes(pool, MASK_POOL) != 1)
      return -1;
    left = MASK_POOL;
  }
  memcpy(buf, pool + MASK_POOL - left, len);
  /* Each key is used once: wipe what was handed out. */
  memset(pool + MASK_POOL - left, 0, len);
  left -= len;
  assert(left <= MASK_POOL);
  return 0;
}

static void ws_msg_cb(wslay_event_context_ptr ctx,
                      const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
  struct ws_conn *c = user;
  switch (arg->opcode) {
  case WSLAY_BINARY_FRAME:
    if (c->state == WS_OPEN)
      c->cbs->on_message(c->arg, arg->msg, arg->msg_length);
    break;
  case WSLAY_TEXT_FRAME:
    /* wslay has checked it is UTF-8 (else it closed with 1007). */
    c->code = WSLAY_CODE_UNSUPPORTED_DATA;
    snprintf(c->why, sizeof c->why, "the peer sent a text message");
    wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA,
                            (const uint8_t *)"binary messages only", 20);
    break;
  case WSLAY_PING: {
    uint64_t now = c->host->now_ms(c->host);
    if (now - c->pings_since >= 1000) {
      c->pings_since = now;
      c->pings = 0;
    }
    if (++c->pings > WS_PINGS_PER_S)
      cut_off(c, "the peer flooded it with pings");
    break;
  }
  case WSLAY_CONNECTION_CLOSE:
    if (!c->code)
      c->code = arg->status_code;
    if (!c->why[0])
      snprintf(c->why, sizeof c->why, "the peer closed (%u)",
               arg->status_code);
    break;
  default:
    break;
  }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .genmask_callback = ws_genmask_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

static void pump(struct ws_conn *c)
{
  if (c->state == WS_DONE || !c->ws)
    return;
  if (wslay_event_want_write(c->ws) && wslay_event_send(c->ws) != 0) {
    c->host->stream_close(c->stream);
    return;
  }
  if (wslay_event_get_close_sent(c->ws) &&
      (wslay_event_get_close_received(c->ws) ||
       !wslay_event_get_read_enabled(c->ws)))
    finish(c);
  else if (wslay_event_get_close_sent(c->ws) && !c->close_timer)
    c->host->timer_start(c->host, CLOSE_TIMEOUT_MS, 0, close_timed_out, c,
                         &c->close_timer);
}

/* A frame wslay refuses at its lowest layer (a control frame over 125
 * bytes, a length with its top bit set...): wslay would send an empty
 * close, RFC 6455 wants 1002 Protocol Error. A server's frames are not
 * masked, so the four bytes are simple to write ourselves. */
static void protocol_error(struct ws_conn *c)
{
  static const uint8_t close_1002[] = {0x88, 0x02, 0x03, 0xea};
  c->code = WSLAY_CODE_PROTOCOL_ERROR;
  snprintf(c->why, sizeof c->why, "protocol error from the peer");
  if (!c->client) {
    write_out(c, close_1002, sizeof close_1002);
    finish(c);
  } else {
    c->host->stream_close(c->stream);
  }
}

/* ---- an idle connection without wslay ----
 * wslay's context holds two fixed 4 KiB buffers. An idle connection (one
 * whose session carries no streams) has no use for them: the context is
 * freed between frames and made again for the next one, which costs a
 * malloc every ping interval. wslay still reads every frame; we only walk
 * the frame headers it is given, to know when it holds no part of one. */

static int ws_new_context(struct ws_conn *c)
{
  int rc = c->client
               ? wslay_event_context_client_init(&c->ws, &ws_callbacks, c)
               : wslay_event_context_server_init(&c->ws, &ws_callbacks, c);
  if (rc != 0) {
    c->ws = NULL;
    return -1;
  }
  wslay_event_config_set_max_recv_msg_length(c->ws, WS_MAX_MESSAGE);
  return 0;
}

/* The context, made again if it was released; NULL when out of memory
 * (the stream is closed then). */
static wslay_event_context_ptr ws_context(struct ws_conn *c)
{
  if (!c->ws && ws_new_context(c) != 0)
    c->host->stream_close(c->stream);
  return c->ws;
}

/* Follows the frame boundaries in bytes wslay is about to read, up to
 * the end of the frame they are in: how many bytes that is. */
static size_t walk_frame(struct ws_conn *c, const uint8_t *p, size_t len)
{
  size_t used = 0;
  while (used < len) {
    if (c->payload_left) {
      size_t n = c->payload_left < len - used ? (size_t)c->payload_left
                                                : len - used;
      c->payload_left -= n;
      used += n;
      if (!c->payload_left)
        break;
      continue;
    }
    /* A header is whole by its 14th byte (WS_FRAME_HEAD_MAX), whatever
     * the bytes say, and hdr_len goes back to 0 then. */
    assert(c->hdr_len < sizeof c->hdr);
    c->hdr[c->hdr_len++] = p[used++];
    struct ws_frame_head h;
    if (!ws_frame_head_read(c->hdr, c->hdr_len, &h))
      continue;
    if ((h.first & 0x08) == 0) /* a data frame: FIN ends the message */
      c->in_message = !(h.first & 0x80);
    c->payload_left = h.len;
    c->hdr_len = 0;
    if (!c->payload_left)
      break;
  }
  assert(used <= len);
  return used;
}

/* wslay holds no part of a frame or of a message. */
static bool wslay_between_frames(const struct ws_conn *c)
{
  return !c->hdr_len && !c->payload_left && !c->in_message;
}

/* Frees wslay's context when nothing is in it: no part of a frame or a
 * message read, nothing to send, no closing begun, and the owner says
 * the connection is idle. Never from inside wslay. */
static void release_if_idle(struct ws_conn *c)
{
  if (!c->ws || c->busy || c->state != WS_OPEN || c->in || c->hdr_len ||
      c->payload_left || c->in_message || !c->cbs->idle ||
      wslay_event_want_write(c->ws) ||
      wslay_event_get_queued_msg_count(c->ws) ||
      !wslay_event_get_read_enabled(c->ws) ||
      !wslay_event_get_write_enabled(c->ws) ||
      wslay_event_get_close_sent(c->ws) ||
      wslay_event_get_close_received(c->ws) || !c->cbs->idle(c->arg))
    return;
  wslay_event_context_free(c->ws);
  c->ws = NULL;
}

/* Keeps n bytes for the next read (after what is kept already). */
static bool keep_input(struct ws_conn *c, const uint8_t *data, size_t n)
{
  if (c->in_len + n > c->in_cap) {
    size_t cap = c->in_cap ? c->in_cap : 16384;
    while (cap < c->in_len + n)
      cap *= 2;
    uint8_t *in = realloc(c->in, cap);
    if (!in) {
      c->host->stream_close(c->stream);
      return false;
    }
    c->in = in;
    c->in_cap = cap;
  }
  memcpy(c->in + c->in_len, data, n);
  c->in_len += n;
  assert(c->in_len <= c->in_cap);
  return true;
}

/* ---- reading frames ----
 * Nearly every frame is a whole binary message in one final frame, and
 * those are read here rather than by wslay: wslay reads a frame 4 KiB at
 * a time, unmasks it a byte at a time (on the server, 43% of its CPU for
 * bytes coming from the device) and copies the message twice more to
 * gather it. Here a frame is taken only when its header is exactly that
 * (FIN, binary, no RSV bits, masked as the side demands, no longer than
 * WS_MAX_MESSAGE), whole in what was read, while wslay holds no part of a
 * frame or message and reads on. Everything else (control frames,
 * fragments, anything malformed, a header cut by the end of a read) goes
 * to wslay in order, which checks and answers it. */

static void deliver(struct ws_conn *c, const uint8_t *msg, size_t len)
{
  if (c->state == WS_OPEN)
    c->cbs->on_message(c->arg, msg, len);
}

static bool fast_frame(const struct ws_conn *c, const struct ws_frame_head *h)
{
  return h->first == WS_FINAL_BINARY && h->masked == !c->client &&
         h->len <= WS_MAX_MESSAGE && c->state == WS_OPEN &&
         (!c->ws || wslay_event_get_read_enabled(c->ws));
}

/* More of the fast frame's payload: how much of p it took. */
static size_t fast_more(struct ws_conn *c, const uint8_t *p, size_t n)
{
  /* A fast frame is read while wslay holds no part of one; it is gone
   * (delivered and freed) the moment its last byte came. */
  assert(c->fast_msg && wslay_between_frames(c));
  assert(c->fast_have <= c->fast_len && c->fast_len <= WS_MAX_MESSAGE);
  size_t k = c->fast_len - c->fast_have;
  if (k > n)
    k = n;
  if (!c->client)
    ws_mask_copy(c->fast_msg + c->fast_have, p, k, c->fast_key,
                 c->fast_have);
  else
    memcpy(c->fast_msg + c->fast_have, p, k);
  c->fast_have += k;
  if (c->fast_have == c->fast_len) {
    uint8_t *msg = c->fast_msg;
    c->fast_msg = NULL;
    deliver(c, msg, c->fast_len);
    free(msg);
  }
  return k;
}

/* A fast frame's payload begins at p: how much of p it took. */
static size_t fast_begin(struct ws_conn *c, const struct ws_frame_head *h,
                         const uint8_t *p, size_t n)
{
  /* Only between frames, one fast frame at a time, and only the frame
   * fast_frame admits: FIN and binary, masked iff the peer is a client,
   * within the size limit. */
  assert(!c->fast_msg && wslay_between_frames(c));
  assert(h->first == WS_FINAL_BINARY && h->masked == !c->client &&
         h->len <= WS_MAX_MESSAGE);
  if (!h->masked && h->len <= n) { /* read in place */
    assert(c->client);
    deliver(c, p, (size_t)h->len);
    return (size_t)h->len;
  }
  c->fast_msg = malloc(h->len ? (size_t)h->len : 1);
  if (!c->fast_msg) {
    c->host->stream_close(c->stream);
    return n;
  }
  c->fast_len = (size_t)h->len;
  c->fast_have = 0;
  memcpy(c->fast_key, h->key, 4);
  return fast_more(c, p, n);
}

/* wslay reads p[0..n); how much it took (less once it stops reading: the
 * connection is closing), or SIZE_MAX when it refused a frame. */
static size_t feed_wslay(struct ws_conn *c, const uint8_t *p, size_t n)
{
  /* wslay is never entered twice, and never in the middle of a fast
   * frame: what it reads must begin where a frame does. */
  assert(!c->busy && !c->rd && !c->fast_msg);
  if (!ws_context(c))
    return SIZE_MAX;
  c->rd = p;
  c->rd_len = n;
  c->rd_off = 0;
  c->busy++;
  int rc = wslay_event_recv(c->ws);
  c->busy--;
  size_t taken = c->rd_off;
  c->rd = NULL;
  c->rd_len = c->rd_off = 0;
  if (rc != 0) {
    protocol_error(c);
    return SIZE_MAX;
  }
  assert(taken <= n);
  return taken;
}

/* Reads p[0..n) frame by frame; returns how much was taken, or SIZE_MAX
 * when the connection failed. */
static size_t read_frames(struct ws_conn *c, const uint8_t *p, size_t n)
{
  size_t off = 0;
  while (off < n && c->state != WS_DONE) {
    if (c->fast_msg) {
      off += fast_more(c, p + off, n - off);
      continue;
    }
    struct ws_frame_head h;
    size_t head = wslay_between_frames(c)
                      ? ws_frame_head_read(p + off, n - off, &h)
                      : 0;
    if (head && fast_frame(c, &h)) {
      off += head;
      off += fast_begin(c, &h, p + off, n - off);
      continue;
    }
    size_t span = walk_frame(c, p + off, n - off);
    assert(span > 0 && span <= n - off); /* the loop moves on */
    size_t took = feed_wslay(c, p + off, span);
    if (took == SIZE_MAX)
      return SIZE_MAX;
    off += took;
    if (took < span)
      break;
  }
  return off;
}

static void take_input(struct ws_conn *c, const void *data, size_t len)
{
  /* After the handshake only (the client's buffer for it is gone). */
  assert((c->state == WS_OPEN || c->state == WS_CLOSING) && !c->hs);
  /* Frames are read straight from the caller's bytes unless some are
   * kept from before (wslay stops reading only once the connection is
   * closing); wslay copies what it keeps itself. */
  bool kept = c->in_len > 0;
  if (kept && !keep_input(c, data, len))
    return;
  size_t taken = read_frames(c, kept ? c->in : data, kept ? c->in_len : len);
  if (taken == SIZE_MAX)
    return;
  if (!kept) {
    if (taken < len && !keep_input(c, (const uint8_t *)data + taken,
                                   len - taken))
      return;
  } else if (taken == c->in_len) {
    /* All taken: an idle session holds no input buffer. */
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
  } else if (taken > 0) {
    assert(taken < c->in_len);
    memmove(c->in, c->in + taken, c->in_len - taken);
    c->in_len -= taken;
  }
  if (c->ws && !wslay_event_get_read_enabled(c->ws) && !c->code) {
    c->code = wslay_event_get_status_code_sent(c->ws);
    snprintf(c->why, sizeof c->why, "refused a frame from the peer (%u)",
             c->code);
  }
  pump(c);
  if (c->stream_backlog > WS_MAX_OWED && c->state != WS_DONE)
    cut_off(c, "the peer reads nothing of what it is sent");
  release_if_idle(c);
}

/* ---- the client's handshake ---- */

struct hs_parse {
  int header; /* 1 upgrade, 2 connection, 3 accept, 0 other */
  bool upgrade_ok, connection_ok, accept_ok;
  const char *expect;
};

static int hs_field(http_parser *p, const char *at, size_t len)
{
  struct hs_parse *h = p->data;
  h->header = (len == 7 && !strncasecmp(at, "upgrade", 7))      ? 1
              : (len == 10 && !strncasecmp(at, "connection", 10)) ? 2
              : (len == 20 && !strncasecmp(at, "sec-websocket-accept", 20))
                  ? 3
                  : 0;
  return 0;
}

static int hs_value(http_parser *p, const char *at, size_t len)
{
  struct hs_parse *h = p->data;
  char v[128];
  snprintf(v, sizeof v, "%.*s", (int)(len < 127 ? len : 127), at);
  if (h->header == 1)
    h->upgrade_ok = weft_http_has_token(v, "websocket");
  else if (h->header == 2)
    h->connection_ok = weft_http_has_token(v, "upgrade");
  else if (h->header == 3)
    h->accept_ok = !strcmp(v, h->expect);
  return 0;
}

static int hs_done(http_parser *p)
{
  (void)p;
  return 1; /* stop: the rest is WebSocket */
}

static void handshake_input(struct ws_conn *c, const void *data, size_t len)
{
  /* Only the dialling side waits for a 101, in a buffer of its own. */
  assert(c->state == WS_HANDSHAKE && c->client && c->hs);
  assert(c->hs_len <= HANDSHAKE_MAX);
  if (c->hs_len + len > HANDSHAKE_MAX) {
    snprintf(c->why, sizeof c->why, "the server's answer is too long");
    c->host->stream_close(c->stream);
    return;
  }
  memcpy(c->hs + c->hs_len, data, len);
  c->hs_len += len;
  c->hs[c->hs_len] = '\0';
  char *end = strstr(c->hs, "\r\n\r\n");
  if (!end)
    return;
  size_t head = (size_t)(end + 4 - c->hs);
  struct hs_parse h = {.expect = c->expect_accept};
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &h;
  static const http_parser_settings settings = {
      .on_header_field = hs_field,
      .on_header_value = hs_value,
      .on_headers_complete = hs_done,
  };
  http_parser_execute(&parser, &settings, c->hs, head);
  if (parser.status_code != 101 || !h.upgrade_ok || !h.connection_ok ||
      !h.accept_ok) {
    char line[80];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(c->hs, "\r\n"), c->hs);
    snprintf(c->why, sizeof c->why, "the server refused the session: %.60s",
             parser.status_code == 101 ? "bad Sec-WebSocket-Accept" : line);
    c->code = (uint16_t)parser.status_code;
    c->host->stream_close(c->stream);
    return;
  }
  c->state = WS_OPEN;
  size_t rest = c->hs_len - head;
  char *leftover = c->hs;
  c->hs = NULL;
  c->cbs->on_open(c->arg);
  if (rest && c->state == WS_OPEN)
    take_input(c, leftover + head, rest);
  free(leftover);
}

/* ---- stream callbacks ---- */

static void on_read(void *ctx, const void *data, size_t len)
{
  struct ws_conn *c = ctx;
  if (c->state == WS_HANDSHAKE)
    handshake_input(c, data, len);
  else if (c->state == WS_OPEN || c->state == WS_CLOSING)
    take_input(c, data, len);
}

static void on_eof(void *ctx)
{
  struct ws_conn *c = ctx;
  if (!c->why[0])
    snprintf(c->why, sizeof c->why, "the connection was lost");
  if (!c->code && (!c->ws || !wslay_event_get_close_received(c->ws)))
    c->code = WSLAY_CODE_ABNORMAL_CLOSURE;
  finish(c);
}

static void on_drained(void *ctx)
{
  struct ws_conn *c = ctx;
  c->stream_backlog = c->host->stream_write(c->stream, NULL, 0);
  if (c->state == WS_OPEN && c->cbs->on_drained)
    c->cbs->on_drained(c->arg);
}

static void conn_free(struct ws_conn *c)
{
  /* The stream's close comes from the loop, never from inside wslay's
   * callbacks (stream_close only begins it). */
  assert(!c->busy);
  if (c->ws)
    wslay_event_context_free(c->ws);
  free(c->in);
  free(c->hs);
  free(c->fast_msg);
  c->host->free(c);
}

static void on_stream_closed(void *ctx, int err)
{
  struct ws_conn *c = ctx;
  assert(!c->notified); /* the stream's last word comes once */
  stop_close_timer(c);
  if (!c->code && err)
    c->code = WSLAY_CODE_ABNORMAL_CLOSURE;
  notify_closed(c, err ? weft_strerror(err) : "closed");
  conn_free(c);
}

static const struct weft_stream_cbs stream_cbs = {
    .on_read = on_read,
    .on_eof = on_eof,
    .on_drained = on_drained,
    .on_closed = on_stream_closed,
};

static struct ws_conn *conn_new(const struct weft_host *host,
                                struct weft_stream *s, bool client,
                                const struct ws_conn_cbs *cbs, void *arg)
{
  struct ws_conn *c = host->calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->host = host;
  c->stream = s;
  c->client = client;
  c->cbs = cbs;
  c->arg = arg;
  if (ws_new_context(c) != 0) {
    host->free(c);
    return NULL;
  }
  return c;
}

int ws_conn_accept(const struct weft_host *host, struct weft_stream *s,
                   const struct ws_upgrade *up, const struct ws_conn_cbs *cbs,
                   void *arg, struct ws_conn **out)
{
  struct ws_conn *c = conn_new(host, s, false, cbs, arg);
  if (!c) {
    host->stream_close(s);
    return WEFT_ENOMEM;
  }
  char accept[32], resp[256];
  accept_value(up->key, accept);
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  c->state = WS_OPEN;
  int rc = host->stream_start(s, &stream_cbs, c);
  if (rc != 0) {
    conn_free(c);
    host->stream_close(s);
    return rc;
  }
  host->stream_write(s, resp, (size_t)n);
  *out = c;
  return 0;
}

int ws_conn_dial(const struct weft_host *host, struct weft_stream *s,
                 const char *host_header, const char *path, const char *token,
                 const struct ws_conn_cbs *cbs, void *arg,
                 struct ws_conn **out)
{
  struct ws_conn *c = conn_new(host, s, true, cbs, arg);
  if (c)
    c->hs = malloc(HANDSHAKE_MAX + 1);
  if (!c || !c->hs) {
    if (c)
      conn_free(c);
    host->stream_close(s);
    return WEFT_ENOMEM;
  }
  unsigned char raw[16];
  char key[32];
  RAND_bytes(raw, sizeof raw);
  EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
  accept_value(key, c->expect_accept);
  size_t len = strlen(host_header) + strlen(path) + strlen(token) + 256;
  char *req = malloc(len);
  if (!req) {
    host->stream_close(s);
    *out = c;
    return 0;
  }
  int n = snprintf(req, len,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "Authorization: Bearer %s\r\n\r\n",
                   path, host_header, key, token);
  c->state = WS_HANDSHAKE;
  int rc = host->stream_start(s, &stream_cbs, c);
  if (rc == 0)
    host->stream_write(s, req, (size_t)n);
  free(req);
  if (rc != 0) {
    conn_free(c);
    host->stream_close(s);
    return rc;
  }
  *out = c;
  return 0;
}

/* ---- sending a message ----
 * wslay's event layer copies each message it queues, and its frame layer
 * masks a byte at a time (a third of a device's CPU for the bytes it
 * sends). When nothing is queued before a message, it goes out here as
 * one final binary frame (ws_frame.c): the server writes the header and
 * the caller's pieces as they are; the client masks them into a buffer,
 * sixteen bytes at a time, and writes that. */

/* Whether a frame may go out now, ahead of wslay's queue: nothing in it,
 * no part of a frame written, no close sent. */
static bool may_send_direct(struct ws_conn *c)
{
  return wslay_event_get_write_enabled(c->ws) &&
         !wslay_event_get_close_sent(c->ws) &&
         wslay_event_get_queued_msg_count(c->ws) == 0 &&
         !wslay_event_want_write(c->ws);
}

/* The client masks a message this much at a time: each such write is
 * 16 KiB or more, which TLS encrypts from it without gathering it first. */
#define MASK_CHUNK (32 * 1024)

static bool send_direct(struct ws_conn *c, const struct iovec *pieces,
                        size_t count, size_t total)
{
  assert(c->state == WS_OPEN && may_send_direct(c));
  uint8_t head[WS_FRAME_HEAD_MAX], key[4];
  if (c->client && ws_genmask_cb(NULL, key, sizeof key, NULL) != 0)
    return false;
  size_t head_len = ws_frame_head_write(head, total, c->client ? key : NULL);
  if (!c->client) {
    write_out(c, head, head_len);
    for (size_t i = 0; i < count; i++)
      if (pieces[i].iov_len)
        write_out(c, pieces[i].iov_base, pieces[i].iov_len);
    return true;
  }
  uint8_t buf[MASK_CHUNK];
  memcpy(buf, head, head_len);
  size_t have = head_len;
  uint64_t off = 0; /* into the payload */
  for (size_t i = 0; i < count; i++) {
    const uint8_t *src = pieces[i].iov_base;
    size_t left = pieces[i].iov_len;
    while (left) {
      size_t k = sizeof buf - have < left ? sizeof buf - have : left;
      ws_mask_copy(buf + have, src, k, key, off);
      have += k, src += k, left -= k, off += k;
      if (have == sizeof buf) {
        write_out(c, buf, have);
        have = 0;
      }
    }
  }
  if (have)
    write_out(c, buf, have);
  assert(off == total); /* as many bytes as the header announced */
  return true;
}

/* Behind what wslay has queued: the pieces as one copy in its queue. */
static bool send_queued(struct ws_conn *c, const struct iovec *pieces,
                        size_t count, size_t total)
{
  uint8_t *msg = malloc(total ? total : 1);
  if (!msg)
    return false;
  size_t off = 0;
  for (size_t i = 0; i < count; i++) {
    if (pieces[i].iov_len)
      memcpy(msg + off, pieces[i].iov_base, pieces[i].iov_len);
    off += pieces[i].iov_len;
  }
  assert(off == total);
  struct wslay_event_msg m = {
      .opcode = WSLAY_BINARY_FRAME, .msg = msg, .msg_length = total};
  bool ok = wslay_event_queue_msg(c->ws, &m) == 0;
  free(msg);
  return ok;
}

size_t ws_conn_sendv(struct ws_conn *c, const struct iovec *pieces,
                     size_t count)
{
  if (c->state != WS_OPEN)
    return ws_conn_backlog(c);
  if (!ws_context(c))
    return 0;
  size_t total = 0;
  for (size_t i = 0; i < count; i++)
    total += pieces[i].iov_len;
  /* The peer refuses larger messages (1009): the carrier sends none (its
   * largest is an HTTP/2 message of MUX_MAX_MESSAGE and a type byte). */
  assert(total <= WS_MAX_MESSAGE);
  bool ok = may_send_direct(c) ? send_direct(c, pieces, count, total)
                : send_queued(c, pieces, count, total);
  if (!ok) {
    c->host->stream_close(c->stream);
    return 0;
  }
  pump(c);
  size_t backlog = ws_conn_backlog(c);
  release_if_idle(c);
  return backlog;
}

size_t ws_conn_backlog(const struct ws_conn *c)
{
  return c->stream_backlog +
         (c->ws ? wslay_event_get_queued_msg_length(c->ws) : 0);
}

void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason)
{
  if (c->state == WS_HANDSHAKE) {
    c->host->stream_close(c->stream);
    return;
  }
  if (c->state != WS_OPEN)
    return;
  c->code = code;
  snprintf(c->why, sizeof c->why, "%s", reason ? reason : "closed");
  size_t rlen = reason ? strlen(reason) : 0;
  if (!ws_context(c))
    return;
  wslay_event_queue_close(c->ws, code, (const uint8_t *)reason,
                          rlen > 123 ? 123 : rlen);
  c->state = WS_CLOSING;
  pump(c);
}

void ws_conn_abort(struct ws_conn *c)
{
  stop_close_timer(c);
  if (c->state != WS_DONE) {
    c->state = WS_CLOSING; /* no message is handed on after this */
    c->host->stream_close(c->stream);
  }
}
