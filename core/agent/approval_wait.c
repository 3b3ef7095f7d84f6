#include "agent/approval_wait.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/api_client.h"

#define POLL_MS 1000
#define PROGRESS_EVERY_S 30

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
  (void)sig;
  interrupted = 1;
}

int approval_read(int status, json_t *reply, json_t **tunnel, char *why,
                  size_t whylen)
{
  if (status == 0) /* unreachable for a moment: keep waiting */
    return 0;
  if (status != 200) {
    client_error_text(reply, status, why, whylen);
    return -1;
  }
  const char *state = json_string_value(json_object_get(reply, "state"));
  const char *message = json_string_value(json_object_get(reply, "message"));
  if (state && !strcmp(state, "pending"))
    return 0;
  if (state && !strcmp(state, "approved") &&
      json_is_object(json_object_get(reply, "tunnel")))
    *tunnel = json_incref(json_object_get(reply, "tunnel"));
  else
    snprintf(why, whylen, "%s", message ? message : "not approved");
  return 1;
}

/* Asks once, as approval_read answers. */
static int poll_once(struct client *c, const char *path, json_t **tunnel,
                     char *why, size_t whylen)
{
  json_t *reply = NULL;
  char err[512];
  int status = client_request(c, "GET", path, NULL, &reply, err, sizeof err);
  int rc = approval_read(status, reply, tunnel, why, whylen);
  json_decref(reply);
  return rc;
}

int approval_path(const json_t *pending, char *path, size_t len, char *why,
                  size_t whylen)
{
  const char *id = json_string_value(json_object_get(pending, "id"));
  if (!id || strlen(id) > 64) {
    snprintf(why, whylen, "the server's answer names no request");
    return -1;
  }
  snprintf(path, len, "/v1/approvals/%s", id);
  return 0;
}

time_t approval_deadline(const json_t *pending)
{
  /* Past the server's own expiry (a minute's grace for a server we could
   * not reach meanwhile) nobody can approve it any more. */
  json_int_t wait_s =
      json_integer_value(json_object_get(pending, "expires_in"));
  return time(NULL) + (wait_s > 0 ? (time_t)wait_s : 600) + 60;
}

void approval_say_waiting(const json_t *pending, const char *label)
{
  const char *id = json_string_value(json_object_get(pending, "id"));
  const char *code = json_string_value(json_object_get(pending, "code"));
  fprintf(stderr,
          "%s: waiting for an administrator to approve request %s\n"
          "  (on the server's side: weft admin approve %s, or deny %s; "
          "Ctrl-C withdraws it)\n",
          label, id, id, id);
  if (code)
    fprintf(stderr,
            "  verification code %s: the administrator sees the same code "
            "beside this request; read it to them to show it is yours\n",
            code);
}

json_t *approval_wait(struct client *c, const json_t *pending,
                      const char *label, char *why, size_t whylen)
{
  char path[128];
  if (approval_path(pending, path, sizeof path, why, whylen) != 0)
    return NULL;
  approval_say_waiting(pending, label);
  struct sigaction quiet = {.sa_handler = on_interrupt}, old_int, old_term;
  sigaction(SIGINT, &quiet, &old_int);
  sigaction(SIGTERM, &quiet, &old_term);
  interrupted = 0;
  json_t *tunnel = NULL;
  time_t started = time(NULL), said = started;
  time_t deadline = approval_deadline(pending);
  int rc = 0;
  while (!interrupted && (rc = poll_once(c, path, &tunnel, why, whylen)) == 0) {
    if (time(NULL) > deadline) {
      snprintf(why, whylen, "no decision before the request expired");
      break;
    }
    nanosleep(&(struct timespec){0, POLL_MS * 1000000L}, NULL);
    if (time(NULL) - said >= PROGRESS_EVERY_S) {
      said = time(NULL);
      fprintf(stderr, "%s: still waiting for approval (%lld s)\n", label,
              (long long)(said - started));
    }
  }
  if (interrupted) {
    json_t *ignored = NULL;
    char err[256];
    client_request(c, "DELETE", path, NULL, &ignored, err, sizeof err);
    json_decref(ignored);
    snprintf(why, whylen, "withdrawn before anyone decided");
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (tunnel)
    fprintf(stderr, "%s: approved\n", label);
  return tunnel;
}
