/* The vhost transport's ClientHello reader: a real ClientHello made by
 * OpenSSL, fed whole, byte by byte, split at every offset and re-cut into
 * records; and hand-built hellos for each way one can be wrong. */
#include <criterion/criterion.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "ingress/clienthello.h"

/* ---- a real ClientHello ------------------------------------------------ */

static size_t openssl_hello(uint8_t *out, size_t cap, const char *name)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  cr_assert_not_null(ctx);
  SSL *ssl = SSL_new(ctx);
  cr_assert_not_null(ssl);
  BIO *inner = NULL, *net = NULL;
  cr_assert_eq(BIO_new_bio_pair(&inner, 0, &net, 0), 1);
  SSL_set_bio(ssl, inner, inner);
  cr_assert_eq(SSL_set_tlsext_host_name(ssl, name), 1);
  static const unsigned char alpn[] = "\x02h2\x08http/1.1";
  cr_assert_eq(SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1), 0);
  SSL_set_connect_state(ssl);
  cr_assert_leq(SSL_connect(ssl), 0); /* wants the server's answer */
  int n = BIO_read(net, out, (int)cap);
  cr_assert_gt(n, 0);
  BIO_free(net);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return (size_t)n;
}

static uint8_t real[8192];
static size_t real_len;

static void make_real(void)
{
  real_len = openssl_hello(real, sizeof real, "Example.COM.");
  cr_assert_eq(real[0], 22);
}

static void check_real_done(const struct clienthello *ch)
{
  cr_assert_str_eq(clienthello_name(ch), "example.com");
  cr_assert_not_null(clienthello_alpn_first(ch));
  cr_assert_str_eq(clienthello_alpn_first(ch), "h2");
  cr_assert_eq(clienthello_consumed(ch), real_len);
}

static struct clienthello ch; /* 16 KiB: keep it off the stack */

Test(clienthello, real_whole, .init = make_real)
{
  clienthello_init(&ch);
  cr_assert_eq(clienthello_feed(&ch, real, real_len), CH_DONE);
  check_real_done(&ch);
  /* Once done, more bytes are not read. */
  cr_assert_eq(clienthello_feed(&ch, (const uint8_t *)"xx", 2), CH_DONE);
  cr_assert_eq(clienthello_consumed(&ch), real_len);
}

Test(clienthello, real_byte_by_byte, .init = make_real)
{
  clienthello_init(&ch);
  for (size_t i = 0; i < real_len; i++) {
    int rc = clienthello_feed(&ch, real + i, 1);
    if (i + 1 < real_len)
      cr_assert_eq(rc, CH_NEED_MORE, "at %zu: %s", i,
                   clienthello_strerror(rc));
    else
      cr_assert_eq(rc, CH_DONE, "%s", clienthello_strerror(rc));
    cr_assert_eq(clienthello_name(&ch) != NULL, i + 1 == real_len);
  }
  check_real_done(&ch);
}

Test(clienthello, real_split_everywhere, .init = make_real)
{
  for (size_t cut = 0; cut <= real_len; cut++) {
    clienthello_init(&ch);
    int rc = clienthello_feed(&ch, real, cut);
    cr_assert_eq(rc, cut == real_len ? CH_DONE : CH_NEED_MORE, "cut %zu", cut);
    rc = clienthello_feed(&ch, real + cut, real_len - cut);
    cr_assert_eq(rc, CH_DONE, "cut %zu: %s", cut, clienthello_strerror(rc));
    check_real_done(&ch);
  }
}

Test(clienthello, real_truncated, .init = make_real)
{
  for (size_t n = 0; n < real_len; n++) {
    clienthello_init(&ch);
    cr_assert_eq(clienthello_feed(&ch, real, n), CH_NEED_MORE, "len %zu", n);
    cr_assert_null(clienthello_name(&ch));
  }
}

/* The handshake message of a one-record hello, cut into records of `frag`
 * bytes each. */
static size_t refragment(const uint8_t *rec, size_t len, size_t frag,
                         uint8_t *out)
{
  size_t hs_len = (size_t)rec[3] << 8 | rec[4];
  cr_assert_eq(hs_len + 5, len);
  size_t o = 0;
  for (size_t at = 0; at < hs_len; at += frag) {
    size_t n = hs_len - at < frag ? hs_len - at : frag;
    out[o++] = 22;
    out[o++] = 3;
    out[o++] = 1;
    out[o++] = (uint8_t)(n >> 8);
    out[o++] = (uint8_t)n;
    memcpy(out + o, rec + 5 + at, n);
    o += n;
  }
  return o;
}

Test(clienthello, real_across_records, .init = make_real)
{
  static uint8_t cut[16384];
  size_t fragments[] = {1000, 300, 100, 3};
  for (size_t f = 0; f < sizeof fragments / sizeof *fragments; f++) {
    size_t n = refragment(real, real_len, fragments[f], cut);
    size_t records = (real_len - 5 + fragments[f] - 1) / fragments[f];
    clienthello_init(&ch);
    int rc = clienthello_feed(&ch, cut, n);
    if (records > CLIENTHELLO_MAX_RECORDS) {
      cr_assert_eq(rc, CH_ETOOLARGE);
      continue;
    }
    cr_assert_eq(rc, CH_DONE, "frag %zu: %s", fragments[f],
                 clienthello_strerror(rc));
    cr_assert_str_eq(clienthello_name(&ch), "example.com");
    cr_assert_str_eq(clienthello_alpn_first(&ch), "h2");
    /* and byte by byte */
    clienthello_init(&ch);
    for (size_t i = 0; i < n; i++)
      rc = clienthello_feed(&ch, cut + i, 1);
    cr_assert_eq(rc, CH_DONE);
    cr_assert_str_eq(clienthello_name(&ch), "example.com");
  }
}

Test(clienthello, real_other_names)
{
  static uint8_t buf[8192];
  size_t n = openssl_hello(buf, sizeof buf, "xn--bcher-kva.Example.org");
  clienthello_init(&ch);
  cr_assert_eq(clienthello_feed(&ch, buf, n), CH_DONE);
  cr_assert_str_eq(clienthello_name(&ch), "xn--bcher-kva.example.org");
}

/* ---- hand-built hellos ------------------------------------------------- */

struct buf {
  uint8_t b[40000];
  size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
  cr_assert_leq(b->n + n, sizeof b->b);
  memcpy(b->b + b->n, p, n);
  b->n += n;
}
static void put8(struct buf *b, unsigned v)
{
  uint8_t x = (uint8_t)v;
  put(b, &x, 1);
}
static void put16(struct buf *b, unsigned v)
{
  put8(b, v >> 8);
  put8(b, v);
}

/* An extension with given type and data. */
static void ext(struct buf *e, unsigned type, const void *data, size_t n)
{
  put16(e, type);
  put16(e, (unsigned)n);
  put(e, data, n);
}

/* server_name extension data holding the given host_names. */
static void sni(struct buf *e, const char *const *names, size_t count)
{
  struct buf d = {.n = 0};
  size_t list = 0;
  for (size_t i = 0; i < count; i++)
    list += 3 + strlen(names[i]);
  put16(&d, (unsigned)list);
  for (size_t i = 0; i < count; i++) {
    put8(&d, 0);
    put16(&d, (unsigned)strlen(names[i]));
    put(&d, names[i], strlen(names[i]));
  }
  ext(e, 0, d.b, d.n);
}

static void sni1(struct buf *e, const char *name)
{
  sni(e, &name, 1);
}

/* A ClientHello body with these extensions (exts NULL: no block at all). */
static void hello_body(struct buf *h, const struct buf *exts)
{
  put16(h, 0x0303);
  for (int i = 0; i < 32; i++)
    put8(h, i);
  put8(h, 0); /* session id */
  put16(h, 4);
  put16(h, 0x1301);
  put16(h, 0x1302);
  put8(h, 1);
  put8(h, 0);
  if (exts) {
    put16(h, (unsigned)exts->n);
    put(h, exts->b, exts->n);
  }
}

/* One record holding one handshake message of type 1 with this body. */
static void record(struct buf *out, const struct buf *body)
{
  put8(out, 22);
  put16(out, 0x0301);
  put16(out, (unsigned)(body->n + 4));
  put8(out, 1);
  put8(out, (unsigned)(body->n >> 16));
  put16(out, (unsigned)body->n);
  put(out, body->b, body->n);
}

static struct buf e, h, r;

static void build(const struct buf *exts)
{
  h.n = r.n = 0;
  hello_body(&h, exts);
  record(&r, &h);
}

/* Feeds r whole; also checks every strict prefix says NEED_MORE and that
 * byte-by-byte feeding gives the same. */
static int run(void)
{
  for (size_t n = 0; n < r.n; n++) {
    clienthello_init(&ch);
    int rc = clienthello_feed(&ch, r.b, n);
    cr_assert_eq(rc, CH_NEED_MORE, "prefix %zu: %s", n,
                 clienthello_strerror(rc));
  }
  clienthello_init(&ch);
  int bytewise = CH_NEED_MORE;
  for (size_t i = 0; i < r.n && bytewise == CH_NEED_MORE; i++)
    bytewise = clienthello_feed(&ch, r.b + i, 1);
  size_t read = clienthello_consumed(&ch);
  clienthello_init(&ch);
  int whole = clienthello_feed(&ch, r.b, r.n);
  cr_assert_eq(whole, bytewise);
  cr_assert_eq(clienthello_consumed(&ch), read);
  return whole;
}

static int run_name(const char *name)
{
  e.n = 0;
  sni1(&e, name);
  build(&e);
  return run();
}

Test(clienthello, built_ok)
{
  cr_assert_eq(run_name("Foo.Example.NET"), CH_DONE);
  cr_assert_str_eq(clienthello_name(&ch), "foo.example.net");
  cr_assert_null(clienthello_alpn_first(&ch));
  cr_assert_eq(clienthello_consumed(&ch), r.n);
}

Test(clienthello, two_names)
{
  static const char *const names[] = {"a.example", "b.example"};
  e.n = 0;
  sni(&e, names, 2);
  build(&e);
  cr_assert_eq(run(), CH_EMANYNAMES);
}

Test(clienthello, other_name_type)
{
  static const uint8_t d[] = {0, 6, 1, 0, 3, 'a', '.', 'b'};
  e.n = 0;
  ext(&e, 0, d, sizeof d);
  build(&e);
  cr_assert_eq(run(), CH_EMANYNAMES);
}

Test(clienthello, duplicate_sni_extension)
{
  e.n = 0;
  sni1(&e, "a.example");
  ext(&e, 23, "", 0);
  sni1(&e, "a.example");
  build(&e);
  cr_assert_eq(run(), CH_EDUPSNI);
}

Test(clienthello, duplicate_alpn_extension)
{
  static const uint8_t a[] = {0, 3, 2, 'h', '2'};
  e.n = 0;
  sni1(&e, "a.example");
  ext(&e, 16, a, sizeof a);
  ext(&e, 16, a, sizeof a);
  build(&e);
  cr_assert_eq(run(), CH_EDUPALPN);
}

Test(clienthello, alpn)
{
  static const uint8_t a[] = {0, 12, 8, 'h', 't', 't', 'p', '/', '1', '.',
                              '1', 2, 'h', '2'};
  e.n = 0;
  ext(&e, 16, a, sizeof a);
  sni1(&e, "a.example");
  build(&e);
  cr_assert_eq(run(), CH_DONE);
  cr_assert_str_eq(clienthello_alpn_first(&ch), "http/1.1");
  /* an empty protocol name, a list overflowing its extension */
  static const uint8_t bad1[] = {0, 3, 0, 'h', '2'};
  static const uint8_t bad2[] = {0, 4, 5, 'h', '2', 'x'};
  static const uint8_t bad3[] = {0, 9, 2, 'h', '2'};
  const uint8_t *bads[] = {bad1, bad2, bad3};
  for (int i = 0; i < 3; i++) {
    e.n = 0;
    sni1(&e, "a.example");
    ext(&e, 16, bads[i], 5 + (i == 1));
    build(&e);
    cr_assert_eq(run(), CH_EMALFORMED, "bad %d", i);
  }
  /* a non-printable first protocol is simply not reported */
  static const uint8_t grease[] = {0, 3, 2, 0x0a, 0x0a};
  e.n = 0;
  sni1(&e, "a.example");
  ext(&e, 16, grease, sizeof grease);
  build(&e);
  cr_assert_eq(run(), CH_DONE);
  cr_assert_null(clienthello_alpn_first(&ch));
}

Test(clienthello, nul_in_name)
{
  static const uint8_t d[] = {0, 8, 0, 0, 5, 'a', '\0', '.', 'b', 'c'};
  e.n = 0;
  ext(&e, 0, d, sizeof d);
  build(&e);
  cr_assert_eq(run(), CH_ENAMENUL);
}

Test(clienthello, name_rules)
{
  char name[300];
  memset(name, 'a', sizeof name);
  /* 4 labels of 63 = 255 with dots; build 253 = 63.63.63.61 */
  for (int i = 63; i < 253; i += 64)
    name[i] = '.';
  name[253] = '\0';
  cr_assert_eq(run_name(name), CH_DONE);
  cr_assert_eq(strlen(clienthello_name(&ch)), 253);
  name[253] = '.';
  name[254] = '\0';
  cr_assert_eq(run_name(name), CH_DONE, "253 + a trailing dot");
  name[253] = 'a';
  cr_assert_eq(run_name(name), CH_ENAMELONG, "254 characters");
  memset(name, 'a', 64);
  strcpy(name + 64, ".example");
  cr_assert_eq(run_name(name), CH_ENAMECHARS, "label of 64");
  cr_assert_eq(run_name(""), CH_ENAMEEMPTY);
  cr_assert_eq(run_name("."), CH_ENAMECHARS);
  cr_assert_eq(run_name("a..b"), CH_ENAMECHARS);
  cr_assert_eq(run_name(".a.b"), CH_ENAMECHARS);
  cr_assert_eq(run_name("a.b.."), CH_ENAMECHARS);
  cr_assert_eq(run_name("a_b.example"), CH_ENAMECHARS);
  cr_assert_eq(run_name("-a.example"), CH_ENAMECHARS);
  cr_assert_eq(run_name("a-.example"), CH_ENAMECHARS);
  cr_assert_eq(run_name("a b.example"), CH_ENAMECHARS);
  cr_assert_eq(run_name("a.example/x"), CH_ENAMECHARS);
  cr_assert_eq(run_name("\xc3\xa9.example"), CH_ENAMECHARS);
  cr_assert_eq(run_name("a-b.3com.example."), CH_DONE);
  cr_assert_str_eq(clienthello_name(&ch), "a-b.3com.example");
  cr_assert_eq(run_name("localhost"), CH_DONE);
}

Test(clienthello, ip_literals)
{
  const char *ips[] = {"127.0.0.1", "127.0.0.1.", "10.1", "2130706433",
                       "0x7f.0.0.1", "a.0x7F", "::1", "[::1]",
                       "fe80::1%eth0", "1.2.3.04"};
  for (size_t i = 0; i < sizeof ips / sizeof *ips; i++)
    cr_assert_eq(run_name(ips[i]), CH_EIPLITERAL, "%s", ips[i]);
  cr_assert_eq(run_name("1.2.3.com"), CH_DONE);
  cr_assert_eq(run_name("0xff.example"), CH_DONE);
}

Test(clienthello, no_sni)
{
  e.n = 0;
  ext(&e, 23, "", 0);
  build(&e);
  cr_assert_eq(run(), CH_ENOSNI);
  e.n = 0;
  build(&e); /* empty extensions block */
  cr_assert_eq(run(), CH_ENOSNI);
  build(NULL); /* no extensions block at all */
  cr_assert_eq(run(), CH_ENOSNI);
  cr_assert_null(clienthello_alpn_first(&ch));
  /* no name, but ALPN: a device that dialled an IP address */
  static const uint8_t weft[] = {0, 7, 6, 'w', 'e', 'f', 't', '/', '1'};
  e.n = 0;
  ext(&e, 16, weft, sizeof weft);
  build(&e);
  cr_assert_eq(run(), CH_ENOSNI);
  cr_assert_null(clienthello_name(&ch));
  cr_assert_not_null(clienthello_alpn_first(&ch));
  cr_assert_str_eq(clienthello_alpn_first(&ch), "weft/1");
}

Test(clienthello, overflowing_lengths)
{
  /* host_name length past the list */
  static const uint8_t d1[] = {0, 6, 0, 0, 9, 'a', '.', 'b'};
  /* list length past the extension */
  static const uint8_t d2[] = {0, 9, 0, 0, 3, 'a', '.', 'b'};
  /* list length shorter than the extension */
  static const uint8_t d3[] = {0, 5, 0, 0, 3, 'a', '.', 'b'};
  /* empty list */
  static const uint8_t d4[] = {0, 0};
  const uint8_t *ds[] = {d1, d2, d3, d4};
  size_t ns[] = {sizeof d1, sizeof d2, sizeof d3, sizeof d4};
  for (int i = 0; i < 4; i++) {
    e.n = 0;
    ext(&e, 0, ds[i], ns[i]);
    build(&e);
    cr_assert_eq(run(), CH_EMALFORMED, "sni %d", i);
  }
  /* an extension's length past the block */
  e.n = 0;
  sni1(&e, "a.example");
  put16(&e, 23);
  put16(&e, 10);
  put(&e, "abc", 3);
  build(&e);
  cr_assert_eq(run(), CH_EMALFORMED);
  /* a half extension header at the end */
  e.n = 0;
  sni1(&e, "a.example");
  put16(&e, 23);
  build(&e);
  cr_assert_eq(run(), CH_EMALFORMED);
  /* extensions block length not matching what follows */
  e.n = 0;
  sni1(&e, "a.example");
  build(&e);
  h.b[2 + 32 + 1 + 2 + 4 + 1 + 1 + 1] ^= 0x01; /* low byte of exts length */
  r.n = 0;
  record(&r, &h);
  cr_assert_eq(run(), CH_EMALFORMED);
  /* bytes after the extensions */
  e.n = 0;
  sni1(&e, "a.example");
  h.n = r.n = 0;
  hello_body(&h, &e);
  put8(&h, 0);
  record(&r, &h);
  cr_assert_eq(run(), CH_EMALFORMED);
}

/* A body with these fixed-part fields, then one good SNI extension. */
static int run_fixed(unsigned version, size_t sid, size_t cs, size_t comp)
{
  e.n = 0;
  sni1(&e, "a.example");
  h.n = r.n = 0;
  put16(&h, version);
  for (int i = 0; i < 32; i++)
    put8(&h, 0);
  put8(&h, (unsigned)sid);
  for (size_t i = 0; i < sid; i++)
    put8(&h, 0);
  put16(&h, (unsigned)cs);
  for (size_t i = 0; i < cs; i++)
    put8(&h, 0x13);
  put8(&h, (unsigned)comp);
  for (size_t i = 0; i < comp; i++)
    put8(&h, 0);
  put16(&h, (unsigned)e.n);
  put(&h, e.b, e.n);
  record(&r, &h);
  return run();
}

Test(clienthello, fixed_part)
{
  cr_assert_eq(run_fixed(0x0303, 32, 2, 1), CH_DONE);
  cr_assert_eq(run_fixed(0x0301, 0, 2, 1), CH_DONE);
  cr_assert_eq(run_fixed(0x0303, 33, 2, 1), CH_EMALFORMED);
  cr_assert_eq(run_fixed(0x0303, 0, 3, 1), CH_EMALFORMED);
  cr_assert_eq(run_fixed(0x0303, 0, 0, 1), CH_EMALFORMED);
  cr_assert_eq(run_fixed(0x0303, 0, 2, 0), CH_EMALFORMED);
  cr_assert_eq(run_fixed(0x0300, 0, 2, 1), CH_EVERSION);
  cr_assert_eq(run_fixed(0x0200, 0, 2, 1), CH_EVERSION);
  /* a handshake length shorter than the fixed part */
  h.n = r.n = 0;
  put16(&h, 0x0303);
  put(&h, "0123456789", 10);
  record(&r, &h);
  cr_assert_eq(run(), CH_EMALFORMED);
}

static int feed_bytes(const void *p, size_t n)
{
  clienthello_init(&ch);
  int whole = clienthello_feed(&ch, p, n);
  size_t read = clienthello_consumed(&ch);
  clienthello_init(&ch);
  int rc = CH_NEED_MORE;
  for (size_t i = 0; i < n && rc == CH_NEED_MORE; i++)
    rc = clienthello_feed(&ch, (const uint8_t *)p + i, 1);
  cr_assert_eq(rc, whole);
  cr_assert_eq(clienthello_consumed(&ch), read, "bytes read depend on cuts");
  return whole;
}

Test(clienthello, not_tls)
{
  cr_assert_eq(feed_bytes("GET / HTTP/1.1\r\n", 16), CH_EHTTP);
  cr_assert_eq(feed_bytes("G", 1), CH_EHTTP, "decided on one byte");
  cr_assert_eq(feed_bytes("PRI * HTTP/2.0\r\n", 16), CH_EHTTP);
  cr_assert_eq(feed_bytes("SSH-2.0-OpenSSH\r\n", 17), CH_EHTTP);
  cr_assert_eq(feed_bytes("\x17\x03\x03\x00\x10", 5), CH_ENOTTLS);
  cr_assert_eq(feed_bytes("\x00", 1), CH_ENOTTLS);
  cr_assert_eq(feed_bytes("\x16\x02\x00", 3), CH_ENOTTLS);
  cr_assert_eq(feed_bytes("\x16\x03\x00", 3), CH_ENOTTLS);
  cr_assert_eq(feed_bytes("\x16\x03\x05", 3), CH_ENOTTLS);
  /* SSLv2-compatible hello: 2-byte header with the high bit set */
  cr_assert_eq(feed_bytes("\x80\x2e\x01\x03\x01", 5), CH_ESSLV2);
  cr_assert_eq(feed_bytes("\x80", 1), CH_ESSLV2);
}

Test(clienthello, records)
{
  /* 18 KiB */
  cr_assert_eq(feed_bytes("\x16\x03\x01\x48\x00", 5), CH_ERECORDLEN);
  cr_assert_eq(feed_bytes("\x16\x03\x01\x40\x01", 5), CH_ERECORDLEN);
  cr_assert_eq(feed_bytes("\x16\x03\x01\x40\x00", 5), CH_NEED_MORE);
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x00", 5), CH_ERECORD);
  /* not a ClientHello: decided on the handshake type byte */
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x04\x02", 6), CH_ENOTHELLO);
  /* handshake length over the limit */
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x04\x01\xff\xff\xff", 9),
               CH_ETOOLARGE);
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x04\x01\x00\x40\x02", 9),
               CH_ETOOLARGE);
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x04\x01\x00\x40\x01", 9),
               CH_NEED_MORE);
  /* a later record of another type */
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x04\x01\x00\x00\x10"
                          "\x15\x03\x03\x00\x02",
                          14),
               CH_ERECORD);
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x04\x01\x00\x00\x10"
                          "\x16\x03\x03\x00\x00",
                          14),
               CH_ERECORD);
}

Test(clienthello, largest_hello_across_two_records)
{
  /* A padding extension filling the handshake to CLIENTHELLO_MAX. */
  static uint8_t pad[CLIENTHELLO_MAX];
  memset(pad, 0, sizeof pad);
  e.n = 0;
  sni1(&e, "big.example");
  size_t fixed = 2 + 32 + 1 + 2 + 4 + 1 + 1 + 2;
  size_t padlen = CLIENTHELLO_MAX - 4 - fixed - e.n - 4;
  ext(&e, 21, pad, padlen);
  h.n = 0;
  hello_body(&h, &e);
  cr_assert_eq(h.n + 4, CLIENTHELLO_MAX);
  /* handshake message, cut into a 16384 record and the rest */
  static uint8_t msg[CLIENTHELLO_MAX];
  msg[0] = 1;
  msg[1] = (uint8_t)(h.n >> 16);
  msg[2] = (uint8_t)(h.n >> 8);
  msg[3] = (uint8_t)h.n;
  memcpy(msg + 4, h.b, h.n);
  r.n = 0;
  put8(&r, 22);
  put16(&r, 0x0301);
  put16(&r, 16384);
  put(&r, msg, 16384);
  put8(&r, 22);
  put16(&r, 0x0303);
  put16(&r, CLIENTHELLO_MAX - 16384);
  put(&r, msg + 16384, CLIENTHELLO_MAX - 16384);
  cr_assert_eq(feed_bytes(r.b, r.n), CH_DONE);
  cr_assert_str_eq(clienthello_name(&ch), "big.example");
  cr_assert_leq(clienthello_consumed(&ch), CLIENTHELLO_RAW_MAX);
  /* one byte more is too large */
  cr_assert_eq(feed_bytes("\x16\x03\x01\x00\x04\x01\x00\x40\x02", 9),
               CH_ETOOLARGE);
}

Test(clienthello, too_many_records)
{
  /* a hello of 100 handshake bytes in records of one byte each */
  r.n = 0;
  const uint8_t msg[4] = {1, 0, 0, 96};
  for (int i = 0; i < 100; i++) {
    put8(&r, 22);
    put16(&r, 0x0301);
    put16(&r, 1);
    put8(&r, i < 4 ? msg[i] : 0);
  }
  cr_assert_eq(feed_bytes(r.b, r.n), CH_ETOOLARGE);
}

Test(clienthello, trailing_bytes_not_read)
{
  e.n = 0;
  sni1(&e, "a.example");
  build(&e);
  size_t n = r.n;
  /* bytes after the hello in its record (and a record after) */
  r.b[3] = (uint8_t)((n - 5 + 3) >> 8);
  r.b[4] = (uint8_t)(n - 5 + 3);
  put(&r, "\x14\x03\x03\x00\x01\x01", 6);
  cr_assert_eq(feed_bytes(r.b, r.n), CH_DONE);
  cr_assert_eq(clienthello_consumed(&ch), n);
}

Test(clienthello, strerror_all)
{
  for (int c = CH_DONE; c >= CH_ETOOLARGE; c--) {
    const char *m = clienthello_strerror(c);
    cr_assert_not_null(m);
    cr_assert_neq(strcmp(m, "unknown ClientHello error"), 0, "%d", c);
    for (int d = c + 1; d <= CH_DONE; d++)
      cr_assert_neq(strcmp(m, clienthello_strerror(d)), 0, "%d %d", c, d);
  }
  cr_assert_str_eq(clienthello_strerror(-1000), "unknown ClientHello error");
}

Test(clienthello, check_name_direct)
{
  char out[CLIENTHELLO_NAME_MAX + 1];
  cr_assert_eq(clienthello_check_name((const uint8_t *)"WWW.Example.com.", 16,
                                      out),
               0);
  cr_assert_str_eq(out, "www.example.com");
  cr_assert_eq(clienthello_check_name((const uint8_t *)"a\0b", 3, out),
               CH_ENAMENUL);
  cr_assert_str_eq(out, "");
}
