#include "tunnel/inspect.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Every entry's bytes, in rings and in flight: one loop thread. */
static size_t total;

size_t inspect_total(void) { return total; }

void inspect_entry_charge(struct inspect_entry *e, size_t n)
{
  e->charged += n;
  total += n;
}

struct inspect_entry *inspect_entry_new(void)
{
  struct inspect_entry *e = calloc(1, sizeof *e);
  if (e)
    inspect_entry_charge(e, sizeof *e);
  return e;
}

void inspect_entry_free(struct inspect_entry *e)
{
  if (!e)
    return;
  assert(total >= e->charged);
  total -= e->charged;
  strbuf_free(&e->target);
  strbuf_free(&e->req_headers);
  strbuf_free(&e->req_body.kept);
  strbuf_free(&e->resp_headers);
  strbuf_free(&e->resp_body.kept);
  free(e);
}

void inspect_body_add(struct inspect_entry *e, struct inspect_body *b,
                      const char *data, size_t len)
{
  b->size += len;
  size_t room = INSPECT_BODY_MAX - b->kept.len;
  if (total >= INSPECT_TOTAL_MAX)
    room = 0; /* the inspectors hold all they may: this body is cut */
  else if (room > INSPECT_TOTAL_MAX - total)
    room = INSPECT_TOTAL_MAX - total;
  size_t n = len < room ? len : room;
  if (n) {
    strbuf_add(&b->kept, data, n);
    inspect_entry_charge(e, n);
  }
  if (n < len || b->kept.oom)
    b->cut = true;
}

struct inspect_ring *inspect_ring_new(void)
{
  return calloc(1, sizeof(struct inspect_ring));
}

void inspect_ring_free(struct inspect_ring *r)
{
  if (!r)
    return;
  for (unsigned i = 0; i < r->count; i++)
    inspect_entry_free(r->entries[(r->first + i) % INSPECT_KEEP]);
  sodium_memzero(r->replays, sizeof r->replays);
  free(r);
}

static void drop_oldest(struct inspect_ring *r)
{
  assert(r->count > 0);
  inspect_entry_free(r->entries[r->first]);
  r->entries[r->first] = NULL;
  r->first = (r->first + 1) % INSPECT_KEEP;
  r->count--;
}

uint64_t inspect_ring_add(struct inspect_ring *r, struct inspect_entry *e)
{
  if (r->count == INSPECT_KEEP)
    drop_oldest(r);
  /* Over the cap (other tunnels hold much): this one's oldest go first. */
  while (total > INSPECT_TOTAL_MAX && r->count > 0)
    drop_oldest(r);
  e->seq = ++r->next_seq;
  r->entries[(r->first + r->count) % INSPECT_KEEP] = e;
  r->count++;
  return e->seq;
}

const struct inspect_entry *inspect_ring_at(const struct inspect_ring *r,
                                            unsigned i)
{
  assert(i < r->count);
  return r->entries[(r->first + i) % INSPECT_KEEP];
}

const struct inspect_entry *inspect_ring_get(const struct inspect_ring *r,
                                             uint64_t seq)
{
  for (unsigned i = 0; i < r->count; i++)
    if (inspect_ring_at(r, i)->seq == seq)
      return inspect_ring_at(r, i);
  return NULL;
}

bool inspect_replay_expect(struct inspect_ring *r, uint64_t seq,
                           char nonce[33])
{
  for (size_t i = 0; i < sizeof r->replays / sizeof r->replays[0]; i++) {
    if (r->replays[i].of)
      continue;
    uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(r->replays[i].nonce, sizeof r->replays[i].nonce, raw,
                   sizeof raw);
    r->replays[i].of = seq;
    memcpy(nonce, r->replays[i].nonce, 33);
    return true;
  }
  return false;
}

uint64_t inspect_replay_claim(struct inspect_ring *r, const char *nonce,
                              size_t len)
{
  for (size_t i = 0; i < sizeof r->replays / sizeof r->replays[0]; i++) {
    if (!r->replays[i].of || len != 32 ||
        sodium_memcmp(r->replays[i].nonce, nonce, 32) != 0)
      continue;
    uint64_t of = r->replays[i].of;
    r->replays[i].of = 0;
    return of;
  }
  return 0;
}
