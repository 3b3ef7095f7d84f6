/* The websocket plugin's own frame path: headers, masking, and ws_conn
 * reading whole binary frames past wslay (and everything else through
 * it) however the bytes are cut, and writing frames a peer can read. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../plugins/websocket/ws_conn.h"
#include "../../../plugins/websocket/ws_frame.h"
#include "../../fuzz/fake_host.h"

Test(ws_frame, headers_round_trip_and_wait_for_their_last_byte)
{
  static const uint64_t lens[] = {0, 1, 125, 126, 65535, 65536, 262144};
  const uint8_t key[4] = {9, 8, 7, 6};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (int masked = 0; masked < 2; masked++) {
      uint8_t h[WS_FRAME_HEAD_MAX];
      size_t n = ws_frame_head_write(h, lens[i], masked ? key : NULL);
      size_t want = 2 + (lens[i] < 126 ? 0 : lens[i] <= 0xffff ? 2 : 8) +
                    (masked ? 4 : 0);
      cr_assert_eq(n, want, "length %lu", (unsigned long)lens[i]);
      struct ws_frame_head got;
      for (size_t cut = 0; cut < n; cut++)
        cr_assert_eq(ws_frame_head_read(h, cut, &got), 0);
      cr_assert_eq(ws_frame_head_read(h, n, &got), n);
      cr_assert_eq(got.first, WS_FINAL_BINARY);
      cr_assert_eq(got.masked, masked);
      cr_assert_eq(got.len, lens[i]);
      if (masked)
        cr_assert_arr_eq(got.key, key, 4);
    }
  }
}

Test(ws_frame, masking_matches_rfc_6455_at_every_offset)
{
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  uint8_t src[100], dst[100], want[100];
  RAND_bytes(src, sizeof src);
  for (uint64_t off = 0; off < 8; off++) {
    for (size_t n = 0; n <= sizeof src; n++) {
      for (size_t i = 0; i < n; i++)
        want[i] = src[i] ^ key[(off + i) % 4];
      ws_mask_copy(dst, src, n, key, off);
      cr_assert_arr_eq(dst, want, n, "offset %lu, %zu bytes",
                       (unsigned long)off, n);
      memcpy(dst, src, n); /* in place */
      ws_mask_copy(dst, dst, n, key, off);
      cr_assert_arr_eq(dst, want, n);
    }
  }
}

/* ---- ws_conn over an in-memory stream ---- */

struct seen {
  uint8_t *msg[8];
  size_t len[8];
  size_t count;
  bool opened, closed;
};

static void on_open(void *arg) { ((struct seen *)arg)->opened = true; }
static void on_message(void *arg, const uint8_t *d, size_t n)
{
  struct seen *s = arg;
  cr_assert_lt(s->count, 8);
  s->msg[s->count] = malloc(n ? n : 1);
  if (n) /* wslay hands an empty message on as NULL */
    memcpy(s->msg[s->count], d, n);
  s->len[s->count++] = n;
}
static void on_closed(void *arg, uint16_t code, const char *why)
{
  (void)code, (void)why;
  ((struct seen *)arg)->closed = true;
}
static const struct ws_conn_cbs cbs = {
    .on_open = on_open, .on_message = on_message, .on_closed = on_closed};

static void forget(struct seen *s)
{
  for (size_t i = 0; i < s->count; i++)
    free(s->msg[i]);
}

/* A server's connection over fs, as after a valid upgrade. */
static struct ws_conn *accepted(struct fake_stream *fs, struct seen *seen)
{
  struct ws_conn *conn;
  struct ws_upgrade up = {.key = "dGhlIHNhbXBsZSBub25jZQ==", .token = "t"};
  cr_assert_eq(ws_conn_accept(fake_host(), (struct weft_stream *)fs, &up,
                              &cbs, seen, &conn),
               0);
  return conn;
}

/* A client's frame: any first byte (FIN, opcode), masked. */
static size_t client_frame(uint8_t *out, uint8_t first, const void *payload,
                           size_t len)
{
  uint8_t key[4];
  RAND_bytes(key, 4);
  size_t n = ws_frame_head_write(out, len, key);
  out[0] = first;
  ws_mask_copy(out + n, payload, len, key, 0);
  return n + len;
}

Test(ws_conn, server_reads_every_message_however_the_reads_cut_it)
{
  enum { BIG = 70000 };
  static uint8_t big[BIG], small[300], in[BIG + 1024];
  RAND_bytes(big, sizeof big);
  RAND_bytes(small, sizeof small);
  size_t n = 0;
  n += client_frame(in + n, 0x82, big, sizeof big);    /* past wslay */
  n += client_frame(in + n, 0x89, "hi", 2);            /* ping: wslay */
  n += client_frame(in + n, 0x02, "part1-", 6);        /* fragments: wslay */
  n += client_frame(in + n, 0x89, "", 0);              /* a ping between */
  n += client_frame(in + n, 0x80, "part2", 5);
  n += client_frame(in + n, 0x82, small, sizeof small);
  n += client_frame(in + n, 0x82, "", 0);              /* empty message */
  static const size_t pieces[] = {1, 3, 7, 13, 4096, 65536, sizeof in};
  for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
    struct fake_stream fs = {0};
    struct seen seen = {0};
    accepted(&fs, &seen);
    for (size_t off = 0; off < n; off += pieces[p])
      fake_stream_feed(&fs, in + off, n - off < pieces[p] ? n - off : pieces[p]);
    cr_assert(!fs.closed, "closed with reads of %zu", pieces[p]);
    cr_assert_eq(seen.count, 4, "reads of %zu: %zu messages", pieces[p],
                 seen.count);
    cr_assert_eq(seen.len[0], sizeof big);
    cr_assert_arr_eq(seen.msg[0], big, sizeof big);
    cr_assert_eq(seen.len[1], 11);
    cr_assert_arr_eq(seen.msg[1], "part1-part2", 11);
    cr_assert_eq(seen.len[2], sizeof small);
    cr_assert_arr_eq(seen.msg[2], small, sizeof small);
    cr_assert_eq(seen.len[3], 0);
    fake_stream_finish(&fs);
    forget(&seen);
  }
}

Test(ws_conn, an_unmasked_client_frame_is_still_refused)
{
  uint8_t out[1024];
  struct fake_stream fs = {.out = out, .out_cap = sizeof out};
  struct seen seen = {0};
  accepted(&fs, &seen);
  size_t from = fs.written;
  uint8_t frame[WS_FRAME_HEAD_MAX + 5];
  size_t n = ws_frame_head_write(frame, 5, NULL);
  memcpy(frame + n, "hello", 5);
  fake_stream_feed(&fs, frame, n + 5);
  cr_assert_eq(seen.count, 0, "an unmasked frame was handed on");
  static const uint8_t close_1002[] = {0x88, 0x02, 0x03, 0xea};
  cr_assert_eq(fs.written - from, sizeof close_1002);
  cr_assert_arr_eq(out + from, close_1002, sizeof close_1002);
  fake_stream_finish(&fs);
  forget(&seen);
}

/* The bytes written after `from`, read back as one frame. */
static void read_back(const uint8_t *out, size_t from, size_t to,
                      bool masked, const uint8_t *want, size_t want_len)
{
  struct ws_frame_head h;
  size_t head = ws_frame_head_read(out + from, to - from, &h);
  cr_assert_gt(head, 0);
  cr_assert_eq(h.first, WS_FINAL_BINARY);
  cr_assert_eq(h.masked, masked);
  cr_assert_eq(h.len, want_len);
  cr_assert_eq(to - from, head + want_len, "%zu bytes written",
               to - from);
  uint8_t *payload = malloc(want_len);
  memcpy(payload, out + from + head, want_len);
  if (masked)
    ws_mask_copy(payload, payload, want_len, h.key, 0);
  cr_assert_arr_eq(payload, want, want_len);
  free(payload);
}

Test(ws_conn, both_sides_write_frames_a_peer_reads)
{
  enum { DATA = 40000 };
  static uint8_t data[DATA], whole[DATA + 10], out[256 * 1024];
  RAND_bytes(data, sizeof data);
  const uint8_t type = 0, h2[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  struct iovec pieces[] = {{(void *)&type, 1}, {(void *)h2, 9},
                           {data, sizeof data}};
  memcpy(whole, &type, 1);
  memcpy(whole + 1, h2, 9);
  memcpy(whole + 10, data, sizeof data);

  /* The client (device): its upgrade, the server's answer, a message. */
  struct fake_stream fs = {.out = out, .out_cap = sizeof out};
  struct seen seen = {0};
  struct ws_conn *conn;
  cr_assert_eq(ws_conn_dial(fake_host(), (struct weft_stream *)&fs,
                            "example.test", "/v1/ws", "token", &cbs, &seen,
                            &conn),
               0);
  const char *k = strstr((char *)out, "Sec-WebSocket-Key: ");
  cr_assert(k);
  char key_guid[128], accept[64], answer[256];
  snprintf(key_guid, sizeof key_guid,
           "%.24s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", k + 19);
  unsigned char sha[20];
  EVP_Digest(key_guid, strlen(key_guid), sha, NULL, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char *)accept, sha, 20);
  int n = snprintf(answer, sizeof answer,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
                   "\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s"
                   "\r\n\r\n",
                   accept);
  fake_stream_feed(&fs, answer, (size_t)n);
  cr_assert(seen.opened && !fs.closed);
  size_t from = fs.written;
  ws_conn_sendv(conn, pieces, 3);
  read_back(out, from, fs.written, true, whole, sizeof whole);
  fake_stream_finish(&fs);

  /* The server: unmasked. */
  struct fake_stream ss = {.out = out, .out_cap = sizeof out};
  conn = accepted(&ss, &seen);
  from = ss.written;
  ws_conn_sendv(conn, pieces, 3);
  read_back(out, from, ss.written, false, whole, sizeof whole);
  fake_stream_finish(&ss);
  forget(&seen);
}
