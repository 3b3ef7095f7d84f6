/* The public TLS port's ClientHello reader: fed the first bytes of a
 * connection to the public TLS port as they arrive, it finds the server name
 * (SNI) to route by, without terminating TLS. A pure module: no I/O, no
 * allocation. The caller keeps the raw bytes itself (to forward them to the
 * tunnel once routed); the parser only reads them.
 *
 * Records and TCP segments may split anywhere. The handshake bytes are
 * gathered across records into a fixed buffer; lengths the peer claims are
 * checked against it before anything is copied. The outcome depends only on
 * the byte stream, never on how it was cut into pieces. */
#ifndef WEFT_CORE_CLIENTHELLO_H
#define WEFT_CORE_CLIENTHELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handshake bytes (4-byte header + ClientHello body) gathered at most. */
#define CLIENTHELLO_MAX (16 * 1024 + 5)
/* TLS records the ClientHello may be split into. */
#define CLIENTHELLO_MAX_RECORDS 64
/* Raw bytes the parser reads at most before CH_DONE or an error, so the
 * caller can size the buffer it keeps them in. */
#define CLIENTHELLO_RAW_MAX (CLIENTHELLO_MAX + 5 * CLIENTHELLO_MAX_RECORDS)
/* A DNS hostname: 253 characters at most (no trailing dot). */
#define CLIENTHELLO_NAME_MAX 253
/* An ALPN protocol name: 255 bytes at most. */
#define CLIENTHELLO_ALPN_MAX 255

enum {
  CH_NEED_MORE = 0, /* feed more bytes */
  CH_DONE = 1,      /* a complete ClientHello with a valid name */
  CH_EHTTP = -1,      /* plain HTTP sent to the TLS port */
  CH_ENOTTLS = -2,    /* not a TLS handshake record */
  CH_ESSLV2 = -3,     /* SSLv2-style hello */
  CH_ERECORDLEN = -4, /* a record longer than 2^14 */
  CH_ERECORD = -5,    /* bad later record: other type, version, empty */
  CH_ENOTHELLO = -6,  /* the first handshake message is not a ClientHello */
  CH_EVERSION = -7,   /* ClientHello legacy_version not 0x0301-0x0304 */
  CH_EMALFORMED = -8, /* a length field overflows its container, etc. */
  CH_ENOSNI = -9,     /* no server_name extension */
  CH_EDUPSNI = -10,   /* server_name extension present twice */
  CH_EDUPALPN = -11,  /* ALPN extension present twice */
  CH_EMANYNAMES = -12, /* server_name list not exactly one host_name */
  CH_ENAMEEMPTY = -13, /* empty host_name */
  CH_ENAMENUL = -14,   /* NUL byte in host_name */
  CH_ENAMELONG = -15,  /* host_name over 253 characters */
  CH_ENAMECHARS = -16, /* not a DNS hostname (characters, labels) */
  CH_EIPLITERAL = -17, /* an IP address given as the name */
  CH_ETOOLARGE = -18,  /* ClientHello over CLIENTHELLO_MAX or too fragmented */
};

struct clienthello {
  int state;              /* CH_NEED_MORE, CH_DONE or a CH_E* (sticky) */
  uint8_t rec_hdr[5];     /* record header being gathered */
  unsigned rec_hdr_len;   /* bytes of it gathered */
  unsigned records;       /* records started */
  size_t rec_left;        /* payload bytes left in the current record */
  size_t hs_len;          /* handshake bytes gathered in hs */
  size_t hs_need;         /* 4 + handshake length, 0 until its header is in */
  size_t consumed;        /* raw bytes read from the stream */
  char name[CLIENTHELLO_NAME_MAX + 1];
  char alpn[CLIENTHELLO_ALPN_MAX + 1];
  bool have_alpn;
  uint8_t hs[CLIENTHELLO_MAX];
};

void clienthello_init(struct clienthello *ch);

/* Reads len more bytes of the stream. Returns CH_NEED_MORE, CH_DONE or a
 * negative CH_E*; once done or failed, further calls return the same and
 * read nothing. Bytes after the ClientHello (in its last record or later)
 * are not read: see clienthello_consumed. */
int clienthello_feed(struct clienthello *ch, const uint8_t *data, size_t len);

/* The server name after CH_DONE (lower-case, no trailing dot), else NULL. */
const char *clienthello_name(const struct clienthello *ch);

/* The first ALPN protocol offered after CH_DONE or CH_ENOSNI (a complete
 * hello without a name: a client that dialled an IP address), or NULL if
 * none was offered or it is not printable ASCII. */
const char *clienthello_alpn_first(const struct clienthello *ch);

/* Raw bytes of the stream read so far (up to the end of the ClientHello
 * once done); never more than CLIENTHELLO_RAW_MAX. */
size_t clienthello_consumed(const struct clienthello *ch);

/* Checks and normalises a host_name as sent (len bytes, may hold anything):
 * lower-cased, one trailing dot removed, DNS labels 1-63 of [a-z0-9-] not
 * starting or ending with '-', 253 at most in all, not an IP literal.
 * Writes it to out (CLIENTHELLO_NAME_MAX + 1 bytes) and returns 0, or
 * returns a CH_ENAME* / CH_EIPLITERAL. */
int clienthello_check_name(const uint8_t *name, size_t len,
                           char out[CLIENTHELLO_NAME_MAX + 1]);

/* A plain message for a result code. */
const char *clienthello_strerror(int code);

#endif
