/* TLS ClientHello reader for SNI routing (RFC 8446 §5.1 records, §4.1.2
 * ClientHello, §4.2 extensions; RFC 6066 §3 server_name; RFC 7301 ALPN).
 * Written by hand and bounded: every length the peer sends is checked
 * against the container it sits in before it is used. */
#include "ingress/clienthello.h"

#include <assert.h>
#include <string.h>

#define TLS_CT_HANDSHAKE 22
#define TLS_HS_CLIENT_HELLO 1
#define TLS_RECORD_MAX 16384 /* 2^14, RFC 8446 §5.1 */
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define SNI_HOST_NAME 0

void clienthello_init(struct clienthello *ch)
{
  /* hs is filled before it is read; no need to clear 16 KiB. */
  ch->state = CH_NEED_MORE;
  memset(ch->rec_hdr, 0, sizeof ch->rec_hdr);
  ch->rec_hdr_len = 0;
  ch->records = 0;
  ch->rec_left = 0;
  ch->hs_len = 0;
  ch->hs_need = 0;
  ch->consumed = 0;
  ch->name[0] = '\0';
  ch->alpn[0] = '\0';
  ch->have_alpn = false;
}

/* A bounded reader over one container: every take checks what is left. */
struct rd {
  const uint8_t *p;
  size_t left;
};

static bool rd_u8(struct rd *r, unsigned *v)
{
  if (r->left < 1)
    return false;
  *v = r->p[0];
  r->p += 1;
  r->left -= 1;
  return true;
}

static bool rd_u16(struct rd *r, unsigned *v)
{
  if (r->left < 2)
    return false;
  *v = (unsigned)r->p[0] << 8 | r->p[1];
  r->p += 2;
  r->left -= 2;
  return true;
}

/* Splits n bytes off the front of r into sub. */
static bool rd_sub(struct rd *r, size_t n, struct rd *sub)
{
  if (r->left < n)
    return false;
  sub->p = r->p;
  sub->left = n;
  r->p += n;
  r->left -= n;
  return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_hex(char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* A last label that some resolver or URL parser reads as a number (decimal,
 * or 0x-hex) makes the name an IPv4 literal in disguise ("127.1",
 * "2130706433", "0x7f.0.0.1"); no real top-level domain looks like that. */
static bool numeric_label(const char *s, size_t n)
{
  size_t i = 0;
  if (n >= 2 && s[0] == '0' && s[1] == 'x') {
    for (i = 2; i < n && is_hex(s[i]); i++)
      ;
    return i == n;
  }
  for (i = 0; i < n && is_digit(s[i]); i++)
    ;
  return i == n;
}

int clienthello_check_name(const uint8_t *name, size_t len,
                           char out[CLIENTHELLO_NAME_MAX + 1])
{
  out[0] = '\0';
  if (len == 0)
    return CH_ENAMEEMPTY;
  if (memchr(name, '\0', len))
    return CH_ENAMENUL;
  if (len > 1 && name[len - 1] == '.')
    len--; /* one trailing dot: the absolute form of the same name */
  if (len > CLIENTHELLO_NAME_MAX)
    return CH_ENAMELONG;
  for (size_t i = 0; i < len; i++)
    if (name[i] == ':' || name[i] == '[' || name[i] == ']')
      return CH_EIPLITERAL; /* IPv6, bracketed or not */
  char buf[CLIENTHELLO_NAME_MAX + 1];
  size_t label = 0; /* start of the current label */
  for (size_t i = 0; i <= len; i++) {
    if (i == len || name[i] == '.') {
      size_t n = i - label;
      if (n < 1 || n > 63)
        return CH_ENAMECHARS;
      if (buf[label] == '-' || buf[i - 1] == '-')
        return CH_ENAMECHARS;
      if (i == len && numeric_label(buf + label, n))
        return CH_EIPLITERAL;
      if (i < len)
        buf[i] = '.';
      label = i + 1;
      continue;
    }
    char c = (char)name[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-'))
      return CH_ENAMECHARS;
    buf[i] = c;
  }
  memcpy(out, buf, len);
  out[len] = '\0';
  return 0;
}

/* server_name extension data (RFC 6066 §3): a list holding exactly one
 * host_name. Other name types were never defined and TLS stacks refuse
 * them, so a list with anything else is refused here too. */
static int parse_sni(struct clienthello *ch, struct rd ext)
{
  unsigned list_len, type, name_len;
  struct rd list, name;
  if (!rd_u16(&ext, &list_len) || list_len != ext.left || list_len == 0)
    return CH_EMALFORMED;
  list = ext;
  int names = 0;
  while (list.left > 0) {
    if (!rd_u8(&list, &type) || !rd_u16(&list, &name_len) ||
        !rd_sub(&list, name_len, &name))
      return CH_EMALFORMED;
    if (type != SNI_HOST_NAME || ++names > 1)
      return CH_EMANYNAMES;
    int rc = clienthello_check_name(name.p, name.left, ch->name);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* ALPN extension data (RFC 7301 §3.1): a non-empty list of non-empty
 * names. All are checked; the first is kept if it is printable. */
static int parse_alpn(struct clienthello *ch, struct rd ext)
{
  unsigned list_len, n;
  struct rd proto;
  if (!rd_u16(&ext, &list_len) || list_len != ext.left || list_len < 2)
    return CH_EMALFORMED;
  bool first = true;
  while (ext.left > 0) {
    if (!rd_u8(&ext, &n) || n == 0 || !rd_sub(&ext, n, &proto))
      return CH_EMALFORMED;
    if (first) {
      bool printable = true;
      for (size_t i = 0; i < proto.left; i++)
        if (proto.p[i] < 0x21 || proto.p[i] > 0x7e)
          printable = false;
      if (printable) {
        memcpy(ch->alpn, proto.p, proto.left); /* n <= 255 */
        ch->alpn[proto.left] = '\0';
        ch->have_alpn = true;
      }
      first = false;
    }
  }
  return 0;
}

/* The whole handshake message is in hs[0 .. hs_need). */
static int parse_hello(struct clienthello *ch)
{
  struct rd body = {ch->hs + 4, ch->hs_need - 4};
  struct rd skip, exts;
  unsigned version, sid_len, cs_len, comp_len, exts_len;

  if (!rd_u16(&body, &version))
    return CH_EMALFORMED;
  if (version < 0x0301 || version > 0x0304)
    return CH_EVERSION;
  if (!rd_sub(&body, 32, &skip)) /* random */
    return CH_EMALFORMED;
  if (!rd_u8(&body, &sid_len) || sid_len > 32 ||
      !rd_sub(&body, sid_len, &skip))
    return CH_EMALFORMED;
  if (!rd_u16(&body, &cs_len) || cs_len < 2 || cs_len % 2 != 0 ||
      !rd_sub(&body, cs_len, &skip))
    return CH_EMALFORMED;
  if (!rd_u8(&body, &comp_len) || comp_len < 1 ||
      !rd_sub(&body, comp_len, &skip))
    return CH_EMALFORMED;
  if (body.left == 0)
    return CH_ENOSNI; /* no extensions block at all */
  if (!rd_u16(&body, &exts_len) || exts_len != body.left)
    return CH_EMALFORMED; /* short, or bytes after the extensions */
  exts = body;

  bool seen_sni = false, seen_alpn = false;
  while (exts.left > 0) {
    unsigned type, len;
    struct rd ext;
    if (!rd_u16(&exts, &type) || !rd_u16(&exts, &len) ||
        !rd_sub(&exts, len, &ext))
      return CH_EMALFORMED;
    int rc = 0;
    if (type == EXT_SERVER_NAME) {
      if (seen_sni)
        return CH_EDUPSNI;
      seen_sni = true;
      rc = parse_sni(ch, ext);
    } else if (type == EXT_ALPN) {
      if (seen_alpn)
        return CH_EDUPALPN;
      seen_alpn = true;
      rc = parse_alpn(ch, ext);
    }
    if (rc != 0)
      return rc;
  }
  if (!seen_sni)
    return CH_ENOSNI;
  return CH_DONE;
}

/* One byte of a record header; the first record decides whether this is
 * TLS at all, later ones must go on being handshake records. */
static int record_header_byte(struct clienthello *ch, uint8_t b)
{
  bool first = ch->records == 0;
  unsigned at = ch->rec_hdr_len;
  assert(at < sizeof ch->rec_hdr); /* its fifth byte starts it again */
  ch->rec_hdr[ch->rec_hdr_len++] = b;
  switch (at) {
  case 0:
    if (b == TLS_CT_HANDSHAKE)
      return CH_NEED_MORE;
    if (!first)
      return CH_ERECORD;
    if (b & 0x80)
      return CH_ESSLV2; /* 2-byte SSLv2 record header, high bit set */
    if (b >= 'A' && b <= 'Z')
      return CH_EHTTP; /* GET, POST, CONNECT, PRI ... */
    return CH_ENOTTLS;
  case 1:
    if (b != 3)
      return first ? CH_ENOTTLS : CH_ERECORD;
    return CH_NEED_MORE;
  case 2:
    if (b < 1 || b > 4)
      return first ? CH_ENOTTLS : CH_ERECORD;
    return CH_NEED_MORE;
  case 3:
    return CH_NEED_MORE;
  default: {
    size_t len = (size_t)ch->rec_hdr[3] << 8 | ch->rec_hdr[4];
    ch->rec_hdr_len = 0;
    if (len > TLS_RECORD_MAX)
      return CH_ERECORDLEN;
    if (len == 0)
      return CH_ERECORD; /* empty handshake fragments are forbidden */
    if (++ch->records > CLIENTHELLO_MAX_RECORDS)
      return CH_ETOOLARGE;
    ch->rec_left = len;
    return CH_NEED_MORE;
  }
  }
}

int clienthello_feed(struct clienthello *ch, const uint8_t *data, size_t len)
{
  size_t i = 0;
  while (ch->state == CH_NEED_MORE && i < len) {
    if (ch->rec_left == 0) {
      ch->state = record_header_byte(ch, data[i]);
      i++;
      continue;
    }
    /* Payload: copy up to the end of the record, of the input, and of
     * what the handshake header (then the message) needs. */
    size_t want = ch->hs_need ? ch->hs_need - ch->hs_len : 4 - ch->hs_len;
    if (ch->hs_len == 0)
      want = 1; /* the type byte alone: the outcome (and what was read)
                 * must not depend on how the stream was cut */
    size_t n = len - i;
    if (n > ch->rec_left)
      n = ch->rec_left;
    if (n > want)
      n = want;
    /* Each pass moves on, and the message fits hs: its length was
     * checked against CLIENTHELLO_MAX when its header came. */
    assert(n > 0 && ch->hs_len + n <= sizeof ch->hs);
    assert(!ch->hs_need || ch->hs_len + n <= ch->hs_need);
    memcpy(ch->hs + ch->hs_len, data + i, n);
    ch->hs_len += n;
    ch->rec_left -= n;
    i += n;
    if (ch->hs[0] != TLS_HS_CLIENT_HELLO) {
      ch->state = CH_ENOTHELLO;
    } else if (ch->hs_need == 0 && ch->hs_len == 4) {
      size_t body = (size_t)ch->hs[1] << 16 | (size_t)ch->hs[2] << 8 |
                    ch->hs[3];
      if (body > CLIENTHELLO_MAX - 4)
        ch->state = CH_ETOOLARGE;
      else
        ch->hs_need = 4 + body;
    }
    if (ch->state == CH_NEED_MORE && ch->hs_need &&
        ch->hs_len == ch->hs_need)
      ch->state = parse_hello(ch);
  }
  ch->consumed += i;
  if (ch->state != CH_DONE)
    ch->name[0] = '\0';
  /* A complete hello keeps its ALPN even without a name: a device that
   * dialled the server's IP address says who it is that way. */
  if ((ch->state != CH_DONE && ch->state != CH_ENOSNI) || !ch->have_alpn)
    ch->alpn[0] = '\0';
  return ch->state;
}

const char *clienthello_name(const struct clienthello *ch)
{
  return ch->state == CH_DONE ? ch->name : NULL;
}

const char *clienthello_alpn_first(const struct clienthello *ch)
{
  bool complete = ch->state == CH_DONE || ch->state == CH_ENOSNI;
  return complete && ch->have_alpn ? ch->alpn : NULL;
}

size_t clienthello_consumed(const struct clienthello *ch)
{
  return ch->consumed;
}

const char *clienthello_strerror(int code)
{
  switch (code) {
  case CH_NEED_MORE:
    return "ClientHello incomplete";
  case CH_DONE:
    return "ClientHello read";
  case CH_EHTTP:
    return "plain text (HTTP?) sent to the TLS port";
  case CH_ENOTTLS:
    return "not a TLS handshake";
  case CH_ESSLV2:
    return "SSLv2-style hello (not supported)";
  case CH_ERECORDLEN:
    return "TLS record longer than 16384 bytes";
  case CH_ERECORD:
    return "bad TLS record during the ClientHello (wrong type or version, "
           "or empty)";
  case CH_ENOTHELLO:
    return "first handshake message is not a ClientHello";
  case CH_EVERSION:
    return "ClientHello version not TLS 1.0-1.3";
  case CH_EMALFORMED:
    return "malformed ClientHello (a length field does not fit)";
  case CH_ENOSNI:
    return "no server name (SNI) in the ClientHello";
  case CH_EDUPSNI:
    return "server_name extension sent twice";
  case CH_EDUPALPN:
    return "ALPN extension sent twice";
  case CH_EMANYNAMES:
    return "server_name must hold exactly one host_name";
  case CH_ENAMEEMPTY:
    return "empty server name";
  case CH_ENAMENUL:
    return "NUL byte in the server name";
  case CH_ENAMELONG:
    return "server name longer than 253 characters";
  case CH_ENAMECHARS:
    return "server name is not a valid DNS hostname";
  case CH_EIPLITERAL:
    return "server name is an IP address";
  case CH_ETOOLARGE:
    return "ClientHello too large or split into too many records";
  default:
    return "unknown ClientHello error";
  }
}
