/* Joins two streams with the host's relay: what one side's socket reads
 * the other side's socket writes, with the core's flow control both ways
 * (nothing is buffered here), FIN passed on, and an error on one side
 * closing the other. */
#ifndef RELAY_SPLICE_H
#define RELAY_SPLICE_H

#include <stdbool.h>
#include <stddef.h>

#include "relay.h"

/* Joins near (the public connection, or the local service's) and far (the
 * data connection), neither started nor attached; from now on the splice
 * owns both, also when it fails. far is attached first and `hello` sent on
 * it. With expect_101, far's first bytes must be an HTTP 101 answer, which
 * is dropped, and near is attached after it; else near is attached at
 * once. owner tags the splice for relay_splice_close_all. 0 or a code. */
int relay_splice(struct relay *r, const void *owner, struct weft_stream *near,
                 struct weft_stream *far, const char *hello, bool expect_101);

/* How many splices are alive. */
size_t relay_splice_count(const struct relay *r);

/* Closes every splice of owner. */
void relay_splice_close_all(struct relay *r, const void *owner);

#endif /* RELAY_SPLICE_H */
