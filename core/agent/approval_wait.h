/* `weft tunnel --await-approval`: the device's side of the consent flow. */
#ifndef WEFT_CLI_APPROVAL_WAIT_H
#define WEFT_CLI_APPROVAL_WAIT_H

#include <jansson.h>
#include <stddef.h>

struct client;

/* Waits for an administrator to decide on the request the server accepted
 * (`pending`, its 202 answer), saying so on stderr. Returns the tunnel as a
 * direct create returns it, or NULL with why: denied, expired, withdrawn
 * (Ctrl-C, which also withdraws it on the server), or the server lost it. */
json_t *approval_wait(struct client *c, const json_t *pending,
                      const char *label, char *why, size_t whylen);

#endif
