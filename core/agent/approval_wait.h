/* `weft tunnel --await-approval`: the device's side of the consent flow. */
#ifndef WEFT_AGENT_APPROVAL_WAIT_H
#define WEFT_AGENT_APPROVAL_WAIT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

struct client;

/* The parts, for an agent that waits on its loop instead. */
/* "/v1/approvals/ID" for a 202 answer; -1 with why if it names none. */
int approval_path(const json_t *pending, char *path, size_t len, char *why,
                  size_t whylen);
/* When to stop waiting (the request's expiry and a minute). */
time_t approval_deadline(const json_t *pending);
/* Says on stderr what is awaited, with the verification code. */
void approval_say_waiting(const json_t *pending, const char *label);
/* From GET /v1/approvals/ID's answer: 1 decided (*tunnel, as a direct
 * create returns it, or why), 0 still pending (or the server not reached:
 * status 0), -1 failed (why). */
int approval_read(int status, json_t *reply, json_t **tunnel, char *why,
                  size_t whylen);

/* Waits for an administrator to decide on the request the server accepted
 * (`pending`, its 202 answer), saying so on stderr. Returns the tunnel as a
 * direct create returns it, or NULL with why: denied, expired, withdrawn
 * (Ctrl-C, which also withdraws it on the server), or the server lost it. */
json_t *approval_wait(struct client *c, const json_t *pending,
                      const char *label, char *why, size_t whylen);

#endif
