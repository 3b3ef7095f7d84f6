/* The HTTP inspector's store: per tunnel, when its owner turned it on, the
 * last INSPECT_KEEP requests the public HTTP port carried to it, in memory
 * only (a visitor's data is the device owner's: never on disk), freed when
 * the tunnel ends or the inspector is turned off. Bodies are kept up to
 * INSPECT_BODY_MAX each way; everything held, requests in flight included,
 * stays under INSPECT_TOTAL_MAX across tunnels (beyond it bodies are cut,
 * then the oldest requests go). ingress/http_capture.c fills entries;
 * the control API reads them. */
#ifndef WEFT_TUNNEL_INSPECT_H
#define WEFT_TUNNEL_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

#define INSPECT_KEEP 50
#define INSPECT_BODY_MAX (64 * 1024)
#define INSPECT_TOTAL_MAX (32u * 1024 * 1024)
/* The header a replay is sent with, carrying a one-time nonce, so that the
 * capture of it is marked as the replay of its original. */
#define INSPECT_REPLAY_HEADER "X-Weft-Replay"

/* One body as kept: its first INSPECT_BODY_MAX bytes, and its full size. */
struct inspect_body {
  struct strbuf kept;
  uint64_t size;
  bool cut; /* size > what is kept */
};

struct inspect_entry {
  uint64_t seq;            /* 1, 2, ... within its tunnel */
  int64_t time_ms;         /* wall clock, when its head came */
  uint64_t started_ms;     /* loop clock, for the duration */
  uint64_t duration_ms;    /* head in to response complete */
  char method[16];
  char host[256];
  struct strbuf target;    /* path and query, as the visitor sent them */
  struct strbuf req_headers;  /* "Name: value\n" lines as sent */
  struct inspect_body req_body;
  int status;              /* 0: no response came */
  struct strbuf resp_headers;
  struct inspect_body resp_body;
  bool complete;           /* the whole response came */
  uint64_t replay_of;      /* the seq it replays, or 0 */
  size_t charged;          /* bytes counted against INSPECT_TOTAL_MAX */
};

struct inspect_ring {
  struct inspect_entry *entries[INSPECT_KEEP]; /* oldest at first */
  unsigned first, count;
  uint64_t next_seq;
  /* One-time nonces of replays under way (INSPECT_REPLAY_HEADER). */
  struct {
    char nonce[33];
    uint64_t of;
  } replays[4];
};

struct inspect_ring *inspect_ring_new(void);
void inspect_ring_free(struct inspect_ring *r);

/* A new entry for a request whose head came (NULL: out of memory). Its
 * bodies take bytes with inspect_body_add; inspect_entry_free drops it. */
struct inspect_entry *inspect_entry_new(void);
void inspect_entry_free(struct inspect_entry *e);
/* Counts n more bytes e holds (its head's text) against the total. */
void inspect_entry_charge(struct inspect_entry *e, size_t n);
void inspect_body_add(struct inspect_entry *e, struct inspect_body *b,
                      const char *data, size_t len);

/* Takes e into r as its newest (the oldest goes when full); returns its
 * seq. */
uint64_t inspect_ring_add(struct inspect_ring *r, struct inspect_entry *e);
/* The entry with seq, or NULL. */
const struct inspect_entry *inspect_ring_get(const struct inspect_ring *r,
                                             uint64_t seq);
/* The i-th entry, oldest first (i < r->count). */
const struct inspect_entry *inspect_ring_at(const struct inspect_ring *r,
                                            unsigned i);

/* A replay of seq is about to be sent: a fresh nonce for its header into
 * nonce (33 bytes). false when too many are under way. */
bool inspect_replay_expect(struct inspect_ring *r, uint64_t seq,
                           char nonce[33]);
/* The seq a request carrying nonce replays (the nonce is spent), or 0.
 * The replay calls it too once done, for a nonce no request brought. */
uint64_t inspect_replay_claim(struct inspect_ring *r, const char *nonce,
                              size_t len);

/* Bytes held by every ring and capture under way. */
size_t inspect_total(void);

#endif
