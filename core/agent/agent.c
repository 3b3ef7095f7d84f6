#include "agent/agent.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

#include "agent/api_call.h"
#include "agent/approval_wait.h"
#include "agent/device_identity.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "base/clock.h"
#include "net/cert_pair.h"
#include "net/curl_loop.h"
#include "telemetry/otlp.h"
#include "plugin/plugin_registry.h"

static void save_status(struct agent *s, struct open_tunnel *ot)
{
  if (tunnel_status_write(s->run_dir, &ot->status) != 0 && !s->status_warned) {
    s->status_warned = true;
    log_warn("cannot write tunnel status under %s/tunnels: weft tunnel "
             "status will not show it",
             s->run_dir);
  }
}

static void tunnel_ended(struct agent *s, struct open_tunnel *ot);

/* A transport that reports nothing of its state gets this long before the
 * tunnel is said to be reachable anyway. */
#define ANNOUNCE_GRACE_MS 3000

static void announce(struct open_tunnel *ot)
{
  ot->announce_pending = false;
  if (ot->announce_ready)
    uv_timer_stop(&ot->announce);
  printf("%s: %s is reachable at %s\n", ot->status.label, ot->spec.local_text,
         ot->public_url);
  fflush(stdout);
}

static void announce_due(uv_timer_t *t)
{
  struct open_tunnel *ot = t->data;
  if (ot->announce_pending && !ot->reported)
    announce(ot);
}

/* Starts the grace for a tunnel waiting to be announced (once the loop
 * runs: tunnels opened before agent_run are armed there). */
static void arm_announce(struct agent *s, struct open_tunnel *ot)
{
  if (!ot->announce_pending || !s->loop)
    return;
  if (!ot->announce_ready) {
    uv_timer_init(s->loop, &ot->announce);
    ot->announce.data = ot;
    ot->announce_ready = true;
  }
  uv_timer_start(&ot->announce, announce_due, ANNOUNCE_GRACE_MS, 0);
}

/* One step of a tunnel's life, for OpenTelemetry. */
static void event(struct open_tunnel *ot, const char *name,
                  const char *severity, const char *detail)
{
  otlp_event(ot->agent->otlp, name, severity, ot->device, ot->id,
             ot->device, detail);
}

static const char *phase_event(enum weft_tunnel_phase phase)
{
  switch (phase) {
  case WEFT_TUNNEL_UP: return "tunnel-up";
  case WEFT_TUNNEL_RETRYING: return "tunnel-down";
  case WEFT_TUNNEL_FAILED: return "tunnel-failed";
  default: return NULL;
  }
}

/* host->tunnel_state: a transport's report on one of its tunnels. */
static void record_state(void *ctx, const char *tunnel_id,
                         const struct weft_tunnel_state *state)
{
  struct agent *s = ctx;
  struct open_tunnel *ot = NULL;
  for (size_t i = 0; i < s->count; i++)
    if (!strcmp(s->tunnels[i].id, tunnel_id))
      ot = &s->tunnels[i];
  if (!ot && s->opening && !strcmp(s->opening->id, tunnel_id))
    ot = s->opening;
  if (!ot)
    return;
  const char *step = phase_event(state->phase);
  if (step && state->phase != ot->status.phase)
    event(ot, step, state->phase == WEFT_TUNNEL_UP ? "INFO" : "WARN",
          state->detail);
  tunnel_status_apply(&ot->status, state);
  save_status(s, ot);
  ot->reported = true;
  if (state->phase == WEFT_TUNNEL_UP)
    ot->reopen_tries = 0;
  if (state->phase == WEFT_TUNNEL_UP && ot->announce_pending)
    announce(ot);
  /* The transport gave up because the server no longer has the tunnel. */
  if (state->phase == WEFT_TUNNEL_FAILED && ot->client && ot->carried)
    tunnel_ended(s, ot);
}

/* The loop's libcurl for device session c, made on first use: one per
 * device, so that a device's connections are its own (a login's two
 * steps must share one TLS channel, which another device's requests in
 * the same connection cache could take). NULL when the loop is not
 * running, or is stopping: then requests block. */
static struct curl_loop *api_of(struct agent *s, const struct client *c)
{
  if (!s->api_on)
    return NULL;
  size_t i = (size_t)(c - s->clients);
  assert(i < AGENT_MAX_TUNNELS);
  if (!s->api[i])
    s->api[i] = curl_loop_new(s->loop);
  return s->api[i];
}

/* What the server said to a token renewal: 0 with *token (in reply),
 * WEFT_ENOENT when the tunnel is gone (ot->ended says how), or WEFT_EIO
 * (try again later). */
static int renewal_outcome(struct open_tunnel *ot, int status, json_t *reply,
                           const char *err, const char **token);

static int renewal_result(struct open_tunnel *ot, int status, json_t *reply,
                          const char *err, const char **token)
{
  int rc = renewal_outcome(ot, status, reply, err, token);
  if (rc == 0)
    ot->renewals_ok++;
  else
    ot->renewals_failed++;
  return rc;
}

static int renewal_outcome(struct open_tunnel *ot, int status, json_t *reply,
                           const char *err, const char **token)
{
  *token = json_string_value(json_object_get(reply, "token"));
  if (status == 200 && *token)
    return 0;
  if (status == 404) {
    /* Gone: how it ended decides whether it is opened again. */
    const char *ended = json_string_value(json_object_get(reply, "ended"));
    const char *why = json_string_value(json_object_get(
        json_object_get(reply, "error"), "message"));
    snprintf(ot->ended, sizeof ot->ended, "%s", ended ? ended : "");
    snprintf(ot->ended_why, sizeof ot->ended_why, "%s", why ? why : "");
    return WEFT_ENOENT;
  }
  if (!status && !strcmp(ot->client->refusal, "device_revoked")) {
    /* Revoked: its tunnels are gone for good. */
    snprintf(ot->ended, sizeof ot->ended, "revoked");
    snprintf(ot->ended_why, sizeof ot->ended_why, "%.200s", err);
    return WEFT_ENOENT;
  }
  if (!status)
    log_warn("token renewal: %s", err);
  return WEFT_EIO;
}

static struct open_tunnel *tunnel_by_id(struct agent *s, const char *id)
{
  for (size_t i = 0; i < s->count; i++)
    if (!strcmp(s->tunnels[i].id, id))
      return &s->tunnels[i];
  return NULL;
}

/* host->token_renew: for transports that reconnect, a fresh orchestration
 * token, blocking (an older plugin's way; see renew_start). */
static int renew_token(void *ctx, const char *tunnel_id, char *out,
                       size_t len)
{
  struct open_tunnel *ot = tunnel_by_id(ctx, tunnel_id);
  if (!ot || !ot->client)
    return WEFT_ENOENT;
  if (ot->client->calls) /* its connection is busy on the loop */
    return WEFT_EAGAIN;
  char path[128], err[512];
  json_t *reply;
  snprintf(path, sizeof path, "/v1/tunnels/%s/token", tunnel_id);
  ot->client->fresh_next = true; /* (see renew_start) */
  int status = client_request(ot->client, "POST", path, NULL, &reply, err,
                              sizeof err);
  const char *token;
  int rc = renewal_result(ot, status, reply, err, &token);
  if (rc == 0 && strlen(token) >= len)
    rc = WEFT_EMSGSIZE;
  if (rc == 0)
    snprintf(out, len, "%s", token);
  json_decref(reply);
  return rc;
}

static void renewed(void *arg, int status, json_t *reply, const char *err)
{
  struct open_tunnel *ot = arg;
  weft_token_cb cb = ot->renew_cb;
  ot->renew_cb = NULL;
  const char *token;
  int rc = renewal_result(ot, status, reply, err, &token);
  cb(ot->renew_arg, rc, rc == 0 ? token : NULL);
}

/* host->token_renew_start: the same on the loop; the answer comes to cb,
 * unless the tunnel is released first (release cancels it). */
static int renew_start(void *ctx, const char *tunnel_id, weft_token_cb cb,
                       void *arg)
{
  struct agent *s = ctx;
  struct open_tunnel *ot = tunnel_by_id(s, tunnel_id);
  if (!s->api_on)
    return WEFT_ENOTSUP; /* the loop is not running yet: block */
  if (!ot || !ot->client)
    return WEFT_ENOENT;
  if (ot->renew_cb)
    return WEFT_EAGAIN; /* one at a time per tunnel */
  char path[128];
  snprintf(path, sizeof path, "/v1/tunnels/%s/token", tunnel_id);
  ot->renew_cb = cb;
  ot->renew_arg = arg;
  /* A transport renews after its session was lost: the API connection
   * kept since most likely went with it (a link cut leaves it half open,
   * and a request on it waits for the whole timeout). */
  ot->client->fresh_next = true;
  struct curl_loop *cl = api_of(s, ot->client);
  if (!cl || client_call(ot->client, cl, "POST", path, NULL, ot, renewed, ot) !=
      0) {
    ot->renew_cb = NULL;
    return WEFT_ENOMEM;
  }
  return 0;
}

static void deleted(void *arg, int status, json_t *reply, const char *err)
{
  (void)reply;
  if (status != 204 && status != 404)
    fprintf(stderr, "weft tunnel: could not delete a tunnel on the server: "
                    "%s\n",
            status ? "unexpected answer" : err);
  (void)arg;
}

/* On the loop while it runs; blocking before it does and at the stop. */
static void delete_on_server(struct agent *s, struct client *c,
                             const char *id)
{
  char path[128], err[512];
  json_t *reply;
  snprintf(path, sizeof path, "/v1/tunnels/%s", id);
  struct curl_loop *cl = api_of(s, c);
  if (cl && client_call(c, cl, "DELETE", path, NULL, NULL, deleted,
                            NULL) == 0)
    return;
  int status = client_request(c, "DELETE", path, NULL, &reply, err,
                              sizeof err);
  deleted(NULL, status, reply, err);
  json_decref(reply);
}

static void add_device_param(void *ctx, const char *key, const char *value)
{
  if (key && value)
    json_object_set_new(ctx, key, json_string(value));
}

/* [server] enrollment = approve: a new device's first login waits for an
 * administrator to approve its key. It says so once, with the request's
 * verification code, and asks again every 2 s until the request expires
 * (10 minutes) or is decided. Before the loop runs, so it blocks: there is
 * nothing else to carry yet. 0, or -1 with err. */
#define ENROLL_POLL_S 2
#define ENROLL_WAIT_S (11 * 60)

static int login_or_wait(struct client *c, char *err, size_t len)
{
  int rc = client_ensure_session(c, err, len);
  if (rc == 0 || strcmp(c->refusal, "enrollment_pending"))
    return rc;
  fprintf(stderr, "weft tunnel: %s\n", err);
  for (int waited = 0; waited < ENROLL_WAIT_S; waited += ENROLL_POLL_S) {
    sleep(ENROLL_POLL_S);
    rc = client_ensure_session(c, err, len);
    if (rc == 0) {
      fprintf(stderr, "weft tunnel: device %s: its key was approved\n",
              c->device_id);
      return 0;
    }
    if (strcmp(c->refusal, "enrollment_pending") && c->refusal[0])
      return -1; /* denied, or another refusal */
    if (waited && waited % 30 == 0)
      fprintf(stderr, "weft tunnel: device %s: still waiting for approval "
                      "(%d s)\n",
              c->device_id, waited);
  }
  snprintf(err, len, "no administrator approved device %s's key in time",
           c->device_id);
  return -1;
}

/* The device's session with the server for tunnel slot i, logged in on
 * first use. NULL with err if there is no server or it would not have us. */
static struct client *device_client(struct agent *s, size_t i,
                                    const char *device, char *err, size_t len)
{
  struct client *c = &s->clients[i];
  if (!s->client_ready[i]) {
    /* A connection string, or else the server this device enrolled with
     * (agent/device_identity.h), which it knows by its key alone. */
    struct enrollment e;
    int found = s->has_server ? 0
                              : agent_load_server(s->state_dir, device, &e,
                                                  err, len);
    if (found < 0)
      return NULL;
    if (!s->has_server && !found) {
      snprintf(err, len, "it needs a weft server: give weft://SECRET@HOST, "
                         "--connect-file FILE, or --enroll STRING (device "
                         "%s was never enrolled here)",
               device);
      return NULL;
    }
    if ((found ? client_init_keyed(c, &e, err, len)
               : client_init(c, &s->server, device, err, len)) != 0)
      return NULL;
    if (agent_device_key(s->state_dir, device, &c->key, err, len) != 0) {
      client_free(c);
      return NULL;
    }
    c->has_key = true;
    s->client_ready[i] = true;
  }
  return login_or_wait(c, err, len) == 0 ? c : NULL;
}

static const char *label_of(const struct open_tunnel *ot)
{
  return ot->spec.name ? ot->spec.name : ot->spec.local_text;
}

/* The transport's say before the server is asked: parameters for its
 * server side (into ot->device_params), or that the tunnel needs no
 * server at all (*standalone). Returns an exit code. */
static int open_prepare(struct open_tunnel *ot, struct plugin_registry *reg,
                        bool *standalone)
{
  const struct agent_tunnel_spec *t = &ot->spec;
  struct plugin *p = plugin_registry_find(reg, t->transport);
  *standalone = false;
  if (!p || !p->initialized) {
    fprintf(stderr, "weft tunnel: transport '%s' is not available\n",
            t->transport);
    return EXIT_TRANSPORT;
  }
  ot->plugin = p;
  ot->plugin_ctx = NULL;
  assert(!ot->device_params);
  ot->device_params = json_object();
  if (!p->desc.client_tunnel_prepare)
    return EXIT_OK;
  struct weft_tunnel_info pre = {
      .struct_size = sizeof pre,
      .name = t->name,
      .device_id = ot->device,
      .local_url = t->local_text,
      .remote_url = t->remote_text,
      .tunnel_config = t->plugin_config,
      .add_param = add_device_param,
      .param_ctx = ot->device_params,
      .local_host = t->local->host,
      .local_port = t->local->port,
      .remote_host = t->remote ? t->remote->host : "",
      .remote_port = t->remote ? t->remote->port : 0,
  };
  int prc = p->desc.client_tunnel_prepare(p->ctx, &pre, &ot->plugin_ctx);
  if (prc < 0) {
    fprintf(stderr, "weft tunnel: %s: the %s transport cannot open it: %s\n",
            label_of(ot), t->transport,
            p->binding.last_error[0] ? p->binding.last_error
                                     : weft_strerror(prc));
    json_decref(ot->device_params);
    ot->device_params = NULL;
    return prc == WEFT_ECONFIG ? EXIT_CONFIG : EXIT_RUNTIME;
  }
  *standalone = prc == WEFT_STANDALONE;
  return EXIT_OK;
}

/* Forgets what open_prepare made, for a tunnel that will not be carried. */
static void open_abandon(struct open_tunnel *ot)
{
  json_decref(ot->device_params);
  ot->device_params = NULL;
  if (ot->plugin_ctx)
    ot->plugin->desc.client_tunnel_close(ot->plugin->ctx, ot->plugin_ctx);
  ot->plugin_ctx = NULL;
}

/* POST /v1/tunnels's body, or NULL with err (its TLS secret file no
 * longer reads as a pair for its host). */
static json_t *create_body(const struct agent *s, const struct open_tunnel *ot,
                           char *err, size_t errlen)
{
  const struct agent_tunnel_spec *t = &ot->spec;
  char *pem = NULL;
  if (t->tls_secret_path) { /* read again: a renewed file is sent */
    assert(t->remote);
    pem = cert_pair_read_file(t->tls_secret_path, t->remote->host,
                              clock_wall_s(), err, errlen);
    if (!pem)
      return NULL;
  }
  json_t *body = json_pack("{s:s,s:s}", "transport", t->transport, "local",
                           t->local_text);
  if (pem) {
    json_t *text = json_string(pem); /* NULL: not UTF-8, so not PEM */
    free(pem);
    if (!text) {
      snprintf(err, errlen, "%s is not PEM text", t->tls_secret_path);
      json_decref(body);
      return NULL;
    }
    json_object_set_new(body, "tls_secret", text);
  }
  if (t->remote_text)
    json_object_set_new(body, "remote", json_string(t->remote_text));
  if (t->name)
    json_object_set_new(body, "name", json_string(t->name));
  if (json_object_size(ot->device_params))
    json_object_set(body, "device_params", ot->device_params);
  if (s->await_approval)
    json_object_set_new(body, "await_approval", json_true());
  if (s->replace)
    json_object_set_new(body, "replace", json_true());
  return body;
}

/* The server did not open it (status 0: not reached, or the login was
 * refused): says why, and returns the exit code it means. */
static int open_refused(struct open_tunnel *ot, int status, json_t *reply,
                        const char *err)
{
  char why[1024];
  snprintf(why, sizeof why, "%s", err);
  open_abandon(ot);
  if (!status) {
    fprintf(stderr, "weft tunnel: %s: %s\n", label_of(ot), why);
    /* Refusals that waiting does not change end the agent. */
    const char *no = ot->client ? ot->client->refusal : "";
    if (!strcmp(no, "device_revoked"))
      return EXIT_ENDED;
    return no[0] ? EXIT_CONFIG : EXIT_RUNTIME;
  }
  client_error_text(reply, status, why, sizeof why);
  const char *code = json_string_value(
      json_object_get(json_object_get(reply, "error"), "code"));
  bool transport = code && (!strcmp(code, "transport_not_built") ||
                            !strcmp(code, "unknown_transport"));
  fprintf(stderr, "weft tunnel: %s: the server did not open the tunnel: %s\n",
          label_of(ot), why);
  if (code && !strcmp(code, "device_busy"))
    fprintf(stderr,
            "weft tunnel: device %s holds as many live tunnels as its class "
            "allows (max_tunnels): give this one its own --device-id NAME, "
            "or take a tunnel back with --replace\n",
            ot->device);
  return transport ? EXIT_TRANSPORT : EXIT_RUNTIME;
}

/* Hands the tunnel the server made (reply: its 201 answer, or NULL for a
 * standalone tunnel) to the transport. Returns an exit code. */
static int open_carry(struct agent *s, struct open_tunnel *ot, json_t *reply)
{
  const struct agent_tunnel_spec *t = &ot->spec;
  struct plugin *p = ot->plugin;
  json_decref(ot->device_params);
  ot->device_params = NULL;
  if (reply) {
    snprintf(ot->id, sizeof ot->id, "%s",
             json_string_value(json_object_get(reply, "id")));
    snprintf(ot->public_url, sizeof ot->public_url, "%s",
             json_string_value(json_object_get(reply, "public_url")));
  } else {
    snprintf(ot->id, sizeof ot->id, "%s", t->name ? t->name : "tunnel");
    snprintf(ot->public_url, sizeof ot->public_url, "%s",
             t->remote_text ? t->remote_text : "(on the bastion)");
  }
  /* The transport's parameters, as the server's side of it handed them. */
  struct weft_kv params[32];
  size_t nparams = 0;
  const char *key;
  json_t *value;
  json_object_foreach(json_object_get(reply, "params"), key, value)
  {
    if (nparams < 32 && json_is_string(value))
      params[nparams++] = (struct weft_kv){key, json_string_value(value)};
  }
  struct client *c = ot->client;
  struct weft_tunnel_info info = {
      .struct_size = sizeof info,
      .id = ot->id,
      .name = t->name,
      .device_id = ot->device,
      .local_url = t->local_text,
      .remote_url = t->remote_text,
      .tunnel_config = t->plugin_config,
      .params = params,
      .param_count = nparams,
      .server_host = c ? c->server.host : NULL,
      .server_port = c ? c->server.port : 0,
      .token = json_string_value(json_object_get(reply, "token")),
      .server_cert_sha256 = c && c->cert_sha256[0] ? c->cert_sha256 : NULL,
      .local_host = t->local->host,
      .local_port = t->local->port,
      .remote_host = t->remote ? t->remote->host : "",
      .remote_port = t->remote ? t->remote->port : 0,
  };
  struct tunnel_status *st = &ot->status;
  memcpy(st->label, t->name ? t->name : ot->id,
         strnlen(t->name ? t->name : ot->id, sizeof st->label - 1));
  memcpy(st->id, ot->id, sizeof st->id);
  snprintf(st->transport, sizeof st->transport, "%s", t->transport);
  snprintf(st->local, sizeof st->local, "%s", t->local_text);
  memcpy(st->public_url, ot->public_url,
         strnlen(ot->public_url, sizeof st->public_url - 1));
  tunnel_status_apply(st, &(struct weft_tunnel_state){
                              .struct_size = sizeof(struct weft_tunnel_state),
                              .phase = WEFT_TUNNEL_CONNECTING});
  s->opening = ot;
  int rc = p->desc.client_tunnel_open(p->ctx, &info, &ot->plugin_ctx);
  s->opening = NULL;
  if (rc != 0) {
    fprintf(stderr, "weft tunnel: %s: the %s transport could not carry it: "
                    "%s\n",
            label_of(ot), t->transport, weft_strerror(rc));
    ot->plugin_ctx = NULL;
    if (c)
      delete_on_server(s, c, ot->id);
    return rc == WEFT_ENOTBUILT ? EXIT_TRANSPORT : EXIT_RUNTIME;
  }
  ot->carried = true;
  save_status(s, ot);
  event(ot, "tunnel-opened", "INFO", ot->public_url);
  if (c) {
    ot->announce_pending = true;
    if (ot->status.phase == WEFT_TUNNEL_UP)
      announce(ot); /* it came up while opening */
    else
      arm_announce(s, ot);
    return EXIT_OK;
  }
  printf("%s: %s is carried by the %s transport, without a weft server\n",
         label_of(ot), t->local_text, t->transport);
  fflush(stdout);
  return EXIT_OK;
}

/* Asks the server for ot's tunnel (unless its transport needs none), then
 * the transport to carry it; blocking, before the loop runs (a tunnel
 * opened again later goes through reopen_due). Returns an exit code. */
static int open_in(struct agent *s, struct plugin_registry *reg,
                   struct open_tunnel *ot)
{
  bool standalone;
  int code = open_prepare(ot, reg, &standalone);
  if (code != EXIT_OK)
    return code;
  if (standalone)
    return open_carry(s, ot, NULL);
  char err[1024];
  ot->client = device_client(s, ot->slot, ot->device, err, sizeof err);
  if (!ot->client) {
    if (s->client_ready[ot->slot])
      ot->client = &s->clients[ot->slot]; /* for its refusal */
    code = open_refused(ot, 0, NULL, err);
    ot->client = NULL;
    /* No server named at all is the command line's fault. */
    return s->has_server || s->client_ready[ot->slot] ? code : EXIT_USAGE;
  }
  json_t *body = create_body(s, ot, err, sizeof err), *reply = NULL;
  if (!body)
    return open_refused(ot, 0, NULL, err);
  int status = client_request(ot->client, "POST", "/v1/tunnels", body, &reply,
                              err, sizeof err);
  json_decref(body);
  if (status == 202) { /* the consent flow: an administrator decides */
    json_t *tunnel = approval_wait(ot->client, reply, label_of(ot), err,
                                   sizeof err);
    json_decref(reply);
    reply = tunnel;
    status = tunnel ? 201 : 403;
    if (!tunnel)
      reply = json_pack("{s:{s:s,s:s}}", "error", "code", "not_approved",
                        "message", err);
  }
  code = status == 201 ? open_carry(s, ot, reply)
                       : open_refused(ot, status, reply, err);
  json_decref(reply);
  return code;
}

int agent_open(struct agent *s, struct plugin_registry *reg, size_t slot,
               const char *device, const struct agent_tunnel_spec *t)
{
  if (s->count == sizeof s->tunnels / sizeof s->tunnels[0]) {
    fprintf(stderr, "weft tunnel: too many tunnels in one process\n");
    return EXIT_USAGE;
  }
  struct open_tunnel *ot = &s->tunnels[s->count];
  memset(ot, 0, sizeof *ot);
  ot->agent = s;
  ot->spec = *t;
  ot->local = *t->local;
  ot->spec.local = &ot->local;
  if (t->remote) {
    ot->remote = *t->remote;
    ot->spec.remote = &ot->remote;
  }
  snprintf(ot->device, sizeof ot->device, "%s", device);
  ot->slot = slot;
  int code = open_in(s, reg, ot);
  if (code == EXIT_OK)
    s->count++;
  return code;
}

/* ---- a tunnel the server ended ---- */

/* An administrator's delete, or another agent's --replace: not undone. */
static bool ended_for_good(const char *ended)
{
  return !strcmp(ended, "deleted") || !strcmp(ended, "replaced") ||
         !strcmp(ended, "refused") || !strcmp(ended, "revoked");
}

static bool any_left(const struct agent *s)
{
  for (size_t i = 0; i < s->count; i++)
    if (s->tunnels[i].carried || s->tunnels[i].reopening ||
        (s->tunnels[i].reopen_ready &&
         uv_is_active((const uv_handle_t *)&s->tunnels[i].reopen)))
      return true;
  return false;
}

static void agent_stop(struct agent *s, int code);

/* Lets go of the transport's tunnel (never from inside its report), and
 * of a renewal it awaits: the transport is told nothing more of it. */
static void release(struct open_tunnel *ot)
{
  if (!ot->carried)
    return;
  ot->carried = false;
  if (ot->client)
    client_call_cancel(ot->client, ot);
  ot->renew_cb = NULL;
  ot->plugin->desc.client_tunnel_close(ot->plugin->ctx, ot->plugin_ctx);
  ot->plugin_ctx = NULL;
}

/* When the next attempt is due: soon at first, then backing off to a
 * minute, with jitter so that a fleet does not come back in step. */
static uint64_t reopen_delay_ms(unsigned tries)
{
  uint64_t base = tries == 0 ? 500 : 1000ull << (tries < 6 ? tries : 6);
  if (base > 60000)
    base = 60000;
  return base * 4 / 5 + (uint64_t)rand() % (base * 2 / 5 + 1);
}

static void reopen_due(uv_timer_t *timer);

/* How an attempt to open ot again ended (an exit code): done, try again
 * later, or stop trying. */
static void reopened(struct open_tunnel *ot, int code)
{
  struct agent *s = ot->agent;
  ot->reopening = false;
  if (code == EXIT_OK || s->stopping)
    return;
  ot->client = NULL; /* nothing of it is left on the server */
  if (code != EXIT_RUNTIME) { /* it cannot be opened as it is: stop trying */
    if (!any_left(s))
      agent_stop(s, code);
    return;
  }
  snprintf(ot->id, sizeof ot->id, "%s", ot->old_id);
  ot->reopen_tries++;
  uint64_t ms = reopen_delay_ms(ot->reopen_tries);
  log_info("%s: trying again in %llu ms", label_of(ot),
           (unsigned long long)ms);
  uv_timer_start(&ot->reopen, reopen_due, ms, 0);
}

static void create_answered(void *arg, int status, json_t *reply,
                            const char *err);

static void ask_approval(uv_timer_t *timer)
{
  struct open_tunnel *ot = timer->data;
  struct agent *s = ot->agent;
  struct client *c = &s->clients[ot->slot];
  struct curl_loop *cl = api_of(s, c);
  if (!cl || client_call(c, cl, "GET", ot->approval, NULL,
                  ot, create_answered, ot) != 0)
    reopened(ot, open_refused(ot, 0, NULL, "cannot ask the server"));
}

/* The server's answer to the create, or to a look at its approval. */
static void create_answered(void *arg, int status, json_t *reply,
                            const char *err)
{
  struct open_tunnel *ot = arg;
  struct agent *s = ot->agent;
  char why[512] = "";
  json_t *tunnel = NULL;
  if (ot->approval[0]) { /* waiting for an administrator */
    int decided = approval_read(status, reply, &tunnel, why, sizeof why);
    if (decided == 0 && time(NULL) <= ot->approval_deadline) {
      uv_timer_start(&ot->reopen, ask_approval, 1000, 0);
      return;
    }
    ot->approval[0] = '\0';
    if (!tunnel) {
      snprintf(why + strlen(why), sizeof why - strlen(why), "%s",
               decided == 0 ? "no decision before the request expired" : "");
      json_t *no = json_pack("{s:{s:s,s:s}}", "error", "code", "not_approved",
                             "message", why);
      ot->client = &s->clients[ot->slot];
      reopened(ot, open_refused(ot, 403, no, why));
      json_decref(no);
      return;
    }
    fprintf(stderr, "%s: approved\n", label_of(ot));
    reply = tunnel;
    status = 201;
  } else if (status == 202) { /* the consent flow, as the first time */
    if (approval_path(reply, ot->approval, sizeof ot->approval, why,
                      sizeof why) != 0) {
      ot->client = &s->clients[ot->slot];
      reopened(ot, open_refused(ot, 0, NULL, why));
      return;
    }
    ot->approval_deadline = approval_deadline(reply);
    approval_say_waiting(reply, label_of(ot));
    uv_timer_start(&ot->reopen, ask_approval, 1000, 0);
    return;
  }
  ot->client = &s->clients[ot->slot];
  reopened(ot, status == 201 ? open_carry(s, ot, reply)
                             : open_refused(ot, status, reply, err));
  json_decref(tunnel);
}

static void reopen_due(uv_timer_t *timer)
{
  struct open_tunnel *ot = timer->data;
  struct agent *s = ot->agent;
  char label[sizeof ot->status.label]; /* the status is cleared below */
  memcpy(label, ot->status.label, sizeof label);
  label[sizeof label - 1] = '\0';
  if (s->stopping)
    return;
  release(ot);
  char why[400];
  snprintf(why, sizeof why, "%s%s%s", ot->ended[0] ? ot->ended : "gone",
           ot->ended_why[0] ? ": " : "", ot->ended_why);
  event(ot, "tunnel-ended", "WARN", why);
  if (ended_for_good(ot->ended)) {
    fprintf(stderr, "weft tunnel: %s: the server ended tunnel %s (%s); not "
                    "opening it again%s%s\n",
            label, ot->id, ot->ended, ot->ended_why[0] ? ": " : "",
            ot->ended_why);
    tunnel_status_remove(s->run_dir, label);
    ot->client = NULL; /* nothing left to delete on the server */
    if (!any_left(s))
      agent_stop(s, EXIT_ENDED);
    return;
  }
  snprintf(ot->old_id, sizeof ot->old_id, "%s", ot->id);
  /* An unnamed tunnel's status file bears its id, which the new tunnel
   * does not keep: the old file goes, or status would list it failed for
   * as long as the agent runs. The new one carries its history (below). */
  if (!ot->spec.name)
    tunnel_status_remove(s->run_dir, label);
  if (ot->reopen_tries == 0)
    fprintf(stderr, "weft tunnel: %s: the server ended tunnel %s (%s); "
                    "opening it again\n",
            label, ot->old_id, ot->ended[0] ? ot->ended : "gone");
  /* A new tunnel, with the old one's history: its restarts, and the
   * error that ended it (weft tunnel status, /metrics' last error). */
  struct tunnel_status old = ot->status;
  ot->id[0] = ot->public_url[0] = ot->ended[0] = '\0';
  ot->client = NULL;
  memset(&ot->status, 0, sizeof ot->status);
  ot->status.restarts = old.restarts + 1;
  memcpy(ot->status.last_error, old.last_error, sizeof old.last_error);
  ot->status.last_error_at = old.last_error_at;
  ot->reported = false;
  /* The same steps as open_in, with the server asked on the loop. */
  ot->reopening = true;
  bool standalone;
  int code = open_prepare(ot, s->reg, &standalone);
  if (code != EXIT_OK) {
    reopened(ot, code);
    return;
  }
  assert(!standalone && s->client_ready[ot->slot]); /* the server ended it */
  char err[1024];
  json_t *body = create_body(s, ot, err, sizeof err);
  if (!body) {
    reopened(ot, open_refused(ot, 0, NULL, err));
    return;
  }
  struct client *c = &s->clients[ot->slot];
  struct curl_loop *cl = api_of(s, c);
  int rc = !cl ? -1 : client_call(c, cl, "POST", "/v1/tunnels",
                       body, ot, create_answered, ot);
  json_decref(body);
  if (rc != 0)
    reopened(ot, open_refused(ot, 0, NULL, "cannot ask the server"));
}

/* Called from the transport's report: the work is done on a timer. */
static void tunnel_ended(struct agent *s, struct open_tunnel *ot)
{
  if (!s->loop || s->stopping ||
      (ot->reopen_ready && uv_is_active((uv_handle_t *)&ot->reopen)))
    return;
  if (!ot->reopen_ready) {
    uv_timer_init(s->loop, &ot->reopen);
    ot->reopen.data = ot;
    ot->reopen_ready = true;
  }
  uv_timer_start(&ot->reopen, reopen_due, reopen_delay_ms(0), 0);
}

/* ---- closing ---- */

void agent_close_all(struct agent *s)
{
  for (size_t i = s->count; i-- > 0;) {
    struct open_tunnel *ot = &s->tunnels[i];
    if (ot->approval[0]) { /* withdrawn: nobody waits for it any more */
      json_t *ignored = NULL;
      char err[256];
      client_request(&s->clients[ot->slot], "DELETE", ot->approval, NULL,
                     &ignored, err, sizeof err);
      json_decref(ignored);
      ot->approval[0] = '\0';
    }
    json_decref(ot->device_params);
    ot->device_params = NULL;
    if (!ot->carried && !ot->client)
      continue;
    release(ot);
    tunnel_status_remove(s->run_dir, ot->status.label);
    event(ot, "tunnel-closed", "INFO", ot->client ? "deleted" : "closed");
    if (ot->client) {
      delete_on_server(s, ot->client, ot->id);
      printf("tunnel %s deleted\n", ot->id);
    } else {
      printf("tunnel %s closed\n", ot->id);
    }
  }
  s->count = 0;
}

/* Closes every tunnel and every handle of the agent's own: the loop ends.
 * Requests still under way on the loop are dropped first; the deletes
 * that follow block (the loop is ending anyway). */
static void agent_stop(struct agent *s, int code)
{
  if (s->stopping)
    return;
  s->stopping = true;
  s->exit_code = code;
  for (size_t i = 0; i < AGENT_MAX_TUNNELS; i++)
    if (s->client_ready[i])
      client_call_cancel(&s->clients[i], NULL);
  s->api_on = false;
  for (size_t i = 0; i < AGENT_MAX_TUNNELS; i++)
    if (s->api[i]) {
      curl_loop_close(s->api[i]);
      s->api[i] = NULL;
    }
  agent_close_all(s);
  otlp_stop(s->otlp); /* the last events go, within its timeout */
  s->otlp = NULL;
  for (size_t i = 0; i < AGENT_MAX_TUNNELS; i++)
    if (s->tunnels[i].reopen_ready)
      uv_close((uv_handle_t *)&s->tunnels[i].reopen, NULL);
  for (size_t i = 0; i < AGENT_MAX_TUNNELS; i++)
    if (s->tunnels[i].announce_ready)
      uv_close((uv_handle_t *)&s->tunnels[i].announce, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->refresh, NULL);
  if (s->on_stop)
    s->on_stop(s->on_stop_arg);
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
  (void)signum;
  agent_stop(sig->data, EXIT_OK);
}

static void refreshed(void *arg, int status, json_t *reply, const char *err)
{
  struct client *c = arg;
  (void)reply;
  if (status != 200)
    log_warn("session refresh (%s): %s", c->device_id, err);
}

/* Keeps the session JWT fresh so later requests (and Ctrl-C's deletes)
 * never meet an expired one; on the loop, one at a time per device. */
static void refresh_session(uv_timer_t *timer)
{
  struct agent *s = timer->data;
  for (size_t i = 0; i < AGENT_MAX_TUNNELS; i++) {
    struct client *c = &s->clients[i];
    if (!s->client_ready[i] || client_call_pending(c, &s->refresh))
      continue;
    struct curl_loop *cl = api_of(s, c);
    if (!cl || client_call(c, cl, "POST", NULL, NULL, &s->refresh, refreshed,
                           c) < 0)
      log_warn("session refresh (%s): cannot start it", c->device_id);
  }
}

void agent_run(struct agent *s, uv_loop_t *loop)
{
  s->loop = loop;
  s->api_on = true;
  uv_signal_init(loop, &s->sigint);
  uv_signal_init(loop, &s->sigterm);
  uv_timer_init(loop, &s->refresh);
  s->sigint.data = s->sigterm.data = s->refresh.data = s;
  uv_signal_start(&s->sigint, on_stop_signal, SIGINT);
  uv_signal_start(&s->sigterm, on_stop_signal, SIGTERM);
  uv_timer_start(&s->refresh, refresh_session, 60000, 60000);
  for (size_t i = 0; i < s->count; i++)
    arm_announce(s, &s->tunnels[i]);
  printf("Press Ctrl-C to close the tunnel%s.\n", s->count > 1 ? "s" : "");
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
}

void agent_bind(struct agent *a, struct plugin_registry *reg)
{
  a->reg = reg;
  plugin_registry_set_renewer(reg, &(struct host_renewer){.renew = renew_token,
                                                         .start = renew_start,
                                                         .ctx = a});
  plugin_registry_set_state_recorder(reg, record_state, a);
}

void agent_free(struct agent *a)
{
  for (size_t i = 0; i < AGENT_MAX_TUNNELS; i++)
    if (a->client_ready[i])
      client_free(&a->clients[i]);
  free(a);
}
