/* Core streams over TLS on a real loop and loopback sockets: the server
 * side recognises TLS by its first byte, the dialling side pins the
 * certificate, both see the same channel binding, backpressure holds, and
 * a dial that never finishes its handshake fails on time; all with the
 * loop's rounds on (stream_rounds_start), as in the server and the client. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "plugin/host.h"
#include "net/listen.h"
#include "base/log.h"
#include "net/stream.h"
#include "net/tls_ctx.h"
#include <weft/errors.h>

enum server_mode { MODE_ECHO, MODE_SEND, MODE_SILENT };

struct fixture {
  uv_loop_t loop;
  struct host_binding b;
  uv_tcp_t listener;
  uint16_t port;
  SSL_CTX *ctx;
  char fingerprint[TLS_FINGERPRINT_HEX + 1];
  char dir[64];
  enum server_mode mode;
  size_t send_total;
  /* the server's side of the one connection */
  struct weft_stream *server;
  int server_binding_len;
  unsigned char server_binding[TLS_BINDING_LEN];
  bool server_tls;
  /* the client's side */
  struct weft_stream *client;
  int connect_status;
  bool connected;
  size_t received;
  bool pattern_ok;
  bool got_eof;
  bool closed;
  bool pause_once;
  uv_timer_t resume;
  /* a_round_gathers_its_writes */
  bool round_probe;
  uv_async_t kick;
  size_t round_queued[3];
  size_t round_piece; /* the size of each of the three writes */
};

static struct fixture f;

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + 3); }

/* ---- the server ---- */

static void server_read(void *ctx, const void *data, size_t len)
{
  (void)ctx;
  if (f.server_binding_len == 0)
    f.server_binding_len = stream_tls_binding(f.server, f.server_binding,
                                              sizeof f.server_binding);
  if (f.mode == MODE_ECHO)
    stream_write(f.server, data, len);
}

static void server_eof(void *ctx)
{
  (void)ctx;
  stream_shutdown(f.server);
}

static void server_closed(void *ctx, int err)
{
  (void)ctx, (void)err;
  f.server = NULL;
}

static const struct weft_stream_cbs server_cbs = {
    .on_read = server_read, .on_eof = server_eof, .on_closed = server_closed};

static void send_pattern(struct weft_stream *s, size_t total)
{
  unsigned char buf[65536];
  for (size_t off = 0; off < total; off += sizeof buf) {
    size_t n = total - off < sizeof buf ? total - off : sizeof buf;
    for (size_t i = 0; i < n; i++)
      buf[i] = pattern(off + i);
    stream_write(s, buf, n);
  }
}

static void on_connection(uv_stream_t *listener, int status)
{
  cr_assert_eq(status, 0);
  struct weft_stream *s = stream_accept(&f.loop, listener);
  cr_assert_not_null(s);
  f.server = s;
  stream_set_tls_sniff(s, f.ctx);
  if (f.mode == MODE_SILENT)
    return; /* never read: the handshake never ends */
  stream_start(s, &server_cbs, NULL);
  if (f.mode == MODE_SEND) {
    send_pattern(s, f.send_total);
    stream_shutdown(s);
  }
}

/* ---- the client ---- */

static void resume_reading(uv_timer_t *t)
{
  (void)t;
  stream_pause(f.client, false);
}

static void client_read(void *ctx, const void *data, size_t len)
{
  (void)ctx;
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++)
    if (p[i] != pattern(f.received + i))
      f.pattern_ok = false;
  f.received += len;
  if (f.pause_once) {
    /* Stop reading while TLS may still hold decrypted bytes: they must
     * come out on resume, not wait for more from the socket. */
    f.pause_once = false;
    stream_pause(f.client, true);
    uv_timer_start(&f.resume, resume_reading, 100, 0);
  }
}

static void client_eof(void *ctx)
{
  (void)ctx;
  f.got_eof = true;
  stream_shutdown(f.client);
}

static void client_closed(void *ctx, int err)
{
  (void)ctx, (void)err;
  f.closed = true;
  f.client = NULL;
  if (f.server)
    stream_close(f.server);
  uv_close((uv_handle_t *)&f.listener, NULL);
  uv_close((uv_handle_t *)&f.resume, NULL);
}

static const struct weft_stream_cbs client_cbs = {
    .on_read = client_read, .on_eof = client_eof, .on_closed = client_closed};

static size_t echo_total;

static void on_connected(void *ctx, struct weft_stream *s, int status)
{
  (void)ctx;
  f.connect_status = status;
  f.connected = true;
  if (status != 0) {
    if (f.server)
      stream_close(f.server);
    uv_close((uv_handle_t *)&f.listener, NULL);
    uv_close((uv_handle_t *)&f.resume, NULL);
    return;
  }
  f.client = s;
  stream_start(s, &client_cbs, NULL);
  if (f.round_probe) {
    uv_async_send(&f.kick); /* its callback runs in the next poll */
    return;
  }
  if (f.mode == MODE_ECHO) {
    send_pattern(s, echo_total);
    stream_shutdown(s);
  }
}

/* An I/O callback of the loop's round, outside any batch of the stream's
 * own: three writes, whose bytes wait for the round's end. */
static void kick_writes(uv_async_t *a)
{
  size_t n = f.round_piece;
  unsigned char *buf = malloc(n);
  cr_assert_not_null(buf);
  for (size_t piece = 0; piece < 3; piece++) {
    for (size_t i = 0; i < n; i++)
      buf[i] = pattern(piece * n + i);
    f.round_queued[piece] = stream_write(f.client, buf, n);
  }
  free(buf);
  stream_shutdown(f.client);
  uv_close((uv_handle_t *)a, NULL);
}

/* ---- set-up ---- */

static void setup(void)
{
  log_set_level(WEFT_LOG_ERROR);
  memset(&f, 0, sizeof f);
  f.pattern_ok = true;
  uv_loop_init(&f.loop);
  stream_rounds_start(&f.loop); /* as the server and the client run */
  host_binding_init(&f.b, "test", &f.loop);
  snprintf(f.dir, sizeof f.dir, "/tmp/weft-tls-XXXXXX");
  cr_assert_not_null(mkdtemp(f.dir));
  char err[512];
  f.ctx = tls_server_ctx(NULL, NULL, f.dir, "127.0.0.1", f.fingerprint, err,
                         sizeof err);
  cr_assert_not_null(f.ctx, "%s", err);
  cr_assert_eq(listen_tcp(&f.loop, &f.listener, "127.0.0.1", 0, on_connection,
                          NULL),
               0);
  struct sockaddr_in a;
  int len = sizeof a;
  uv_tcp_getsockname(&f.listener, (struct sockaddr *)&a, &len);
  f.port = ntohs(a.sin_port);
  uv_timer_init(&f.loop, &f.resume);
  stream_set_connect_timeout(STREAM_CONNECT_TIMEOUT_MS);
}

static void teardown(void)
{
  stream_rounds_stop();
  uv_run(&f.loop, UV_RUN_DEFAULT);
  host_binding_release(&f.b);
  cr_assert_eq(uv_loop_close(&f.loop), 0, "every handle closed");
  SSL_CTX_free(f.ctx);
  char path[128];
  snprintf(path, sizeof path, "%s/tls.crt", f.dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/tls.key", f.dir);
  unlink(path);
  rmdir(f.dir);
  cr_assert_eq(stream_count(), 0, "no stream leaked");
}

static void dial(bool tls, const char *pin)
{
  cr_assert_eq(f.b.host.stream_connect(&f.b.host, "127.0.0.1", f.port, tls,
                                       pin, on_connected, NULL),
               0);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  cr_assert(f.connected, "the dial was answered");
}

TestSuite(stream_tls, .init = setup, .fini = teardown);

Test(stream_tls, echo_with_pinned_certificate)
{
  f.mode = MODE_ECHO;
  echo_total = 4 * 1024 * 1024;
  dial(true, f.fingerprint);
  cr_assert_eq(f.connect_status, 0);
  cr_assert_eq(f.received, echo_total, "all %zu bytes came back",
               echo_total);
  cr_assert(f.pattern_ok, "in order and intact");
  cr_assert(f.got_eof, "close_notify/FIN seen");
  cr_assert_eq(f.server_binding_len, TLS_BINDING_LEN,
               "the server sees a TLS channel binding");
}

static unsigned char client_binding[TLS_BINDING_LEN];
static int client_binding_len;

static void binding_connected(void *ctx, struct weft_stream *s, int status)
{
  cr_assert_eq(status, 0);
  client_binding_len =
      stream_tls_binding(s, client_binding, sizeof client_binding);
  struct weft_stream_info info = {.struct_size = sizeof info};
  stream_info(s, &info);
  cr_assert(info.tls);
  on_connected(ctx, s, status);
}

Test(stream_tls, both_ends_see_the_same_binding)
{
  f.mode = MODE_ECHO;
  echo_total = 1000;
  f.b.host.stream_connect(&f.b.host, "127.0.0.1", f.port, true, f.fingerprint,
                          binding_connected, NULL);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  cr_assert_eq(client_binding_len, TLS_BINDING_LEN);
  cr_assert_eq(f.server_binding_len, TLS_BINDING_LEN);
  cr_assert_arr_eq(client_binding, f.server_binding, TLS_BINDING_LEN);
}

Test(stream_tls, wrong_pin_is_refused)
{
  f.mode = MODE_ECHO;
  char pin[TLS_FINGERPRINT_HEX + 1];
  memcpy(pin, f.fingerprint, sizeof pin);
  pin[0] = pin[0] == '0' ? '1' : '0';
  dial(true, pin);
  cr_assert_eq(f.connect_status, WEFT_EAUTH);
}

Test(stream_tls, self_signed_without_pin_fails_ca_check)
{
  f.mode = MODE_ECHO;
  dial(true, NULL);
  cr_assert_eq(f.connect_status, WEFT_EPROTO);
}

Test(stream_tls, plain_client_on_a_tls_port_stays_plain)
{
  f.mode = MODE_ECHO;
  echo_total = 100000;
  dial(false, NULL);
  cr_assert_eq(f.connect_status, 0);
  cr_assert_eq(f.received, echo_total);
  cr_assert(f.pattern_ok);
  cr_assert_eq(f.server_binding_len, -1, "no binding without TLS");
}

Test(stream_tls, paused_reader_gets_everything_on_resume)
{
  f.mode = MODE_SEND;
  f.send_total = 2 * 1024 * 1024;
  f.pause_once = true;
  dial(true, f.fingerprint);
  cr_assert_eq(f.connect_status, 0);
  cr_assert_eq(f.received, f.send_total);
  cr_assert(f.pattern_ok);
  cr_assert(f.got_eof);
}

Test(stream_tls, handshake_that_never_ends_times_out)
{
  f.mode = MODE_SILENT;
  stream_set_connect_timeout(300);
  uint64_t start = uv_hrtime();
  dial(true, f.fingerprint);
  uint64_t ms = (uv_hrtime() - start) / 1000000;
  cr_assert_eq(f.connect_status, WEFT_ETIMEDOUT);
  cr_assert(ms >= 250 && ms < 5000, "failed after %llu ms",
            (unsigned long long)ms);
}

Test(stream_tls, a_round_gathers_its_writes)
{
  f.mode = MODE_ECHO;
  f.round_probe = true;
  f.round_piece = 100;
  uv_async_init(&f.loop, &f.kick, kick_writes);
  dial(false, NULL);
  cr_assert_eq(f.connect_status, 0);
  /* Held until the round ended (alone, each would have gone at once). */
  cr_assert_eq(f.round_queued[0], 100);
  cr_assert_eq(f.round_queued[1], 200);
  cr_assert_eq(f.round_queued[2], 300);
  cr_assert_eq(f.received, 300, "all came back, got %zu", f.received);
  cr_assert(f.pattern_ok);
  cr_assert(f.got_eof);
}

/* Writes of whole records' worth are encrypted at once from the caller's
 * buffer; their records are not sent at once (the round's end, or the next
 * such write, sends them) and count in what the stream holds. */
Test(stream_tls, a_round_encrypts_bulk_writes_and_holds_their_records)
{
  f.mode = MODE_ECHO;
  f.round_probe = true;
  f.round_piece = 40000;
  uv_async_init(&f.loop, &f.kick, kick_writes);
  dial(true, f.fingerprint);
  cr_assert_eq(f.connect_status, 0);
  for (size_t i = 0; i < 3; i++)
    cr_assert(f.round_queued[i] >= 40000 && f.round_queued[i] < 121024,
              "after write %zu the stream holds %zu", i, f.round_queued[i]);
  cr_assert_eq(f.received, 120000, "all came back, got %zu", f.received);
  cr_assert(f.pattern_ok);
  cr_assert(f.got_eof);
}
