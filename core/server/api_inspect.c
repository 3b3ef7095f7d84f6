/* The HTTP inspector through the API (tunnel/inspect.h keeps what it
 * captures):
 *   PUT  /v1/tunnels/{id}/inspect              {"on": true|false}
 *   GET  /v1/tunnels/{id}/requests             the last ones, oldest first
 *   GET  /v1/tunnels/{id}/requests/{seq}       one, with headers and bodies
 *   POST /v1/tunnels/{id}/requests/{seq}/replay
 * A replay is sent as a visitor's request would be, to the server's own
 * public HTTP port with the captured Host (libcurl on the loop), so it
 * takes the path every request takes and is itself captured, marked by a
 * one-time nonce (INSPECT_REPLAY_HEADER). Turning the inspector on or off
 * and each replay are audited; each capture is an event ("request"). */
#include "server/control_api_internal.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingress/http_ingress.h"
#include "net/curl_loop.h"
#include "tunnel/inspect.h"

#define REPLAY_TIMEOUT_MS 30000

/* ---- events ---- */

static void inspected(void *arg, const struct tunnel *t, uint64_t seq)
{
  struct control_api *api = arg;
  if (!events_count(&api->events))
    return;
  char data[96];
  snprintf(data, sizeof data, "{\"tunnel_id\":\"%s\",\"seq\":%llu}",
           t->lease->tunnel_id, (unsigned long long)seq);
  events_publish(&api->events, "request", data);
}

/* ---- views ---- */

/* text as a JSON string when it is UTF-8, else under name_base64. */
static void set_body(json_t *doc, const char *name, const struct inspect_body *b)
{
  json_t *s = json_stringn(b->kept.data ? b->kept.data : "", b->kept.len);
  char key[32];
  if (s) {
    json_object_set_new(doc, name, s);
  } else {
    size_t n = sodium_base64_encoded_len(b->kept.len,
                                         sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(n);
    if (text) {
      sodium_bin2base64(text, n, (const unsigned char *)b->kept.data,
                        b->kept.len, sodium_base64_VARIANT_ORIGINAL);
      snprintf(key, sizeof key, "%s_base64", name);
      json_object_set_new(doc, key, json_string(text));
      free(text);
    }
  }
  snprintf(key, sizeof key, "%s_size", name);
  json_object_set_new(doc, key, json_integer((json_int_t)b->size));
  snprintf(key, sizeof key, "%s_cut", name);
  json_object_set_new(doc, key, json_boolean(b->cut));
}

/* "Name: value\n" lines as [[name, value], ...] (bytes that are not
 * UTF-8 shown as '?'). */
static json_t *header_list(const struct strbuf *text)
{
  json_t *list = json_array();
  const char *p = text->data ? text->data : "";
  while (*p) {
    size_t len = strcspn(p, "\n");
    const char *colon = memchr(p, ':', len);
    size_t nl = colon ? (size_t)(colon - p) : len;
    const char *v = colon ? colon + 1 : p + len;
    while (v < p + len && *v == ' ')
      v++;
    char *name = strndup(p, nl), *value = strndup(v, (size_t)(p + len - v));
    for (char *c = name; c && *c; c++)
      if ((unsigned char)*c >= 0x80)
        *c = '?';
    json_t *jv = value ? json_string(value) : NULL;
    if (!jv && value) {
      for (char *c = value; *c; c++)
        if ((unsigned char)*c >= 0x80)
          *c = '?';
      jv = json_string(value);
    }
    if (name && jv)
      json_array_append_new(list, json_pack("[s,o]", name, jv));
    else
      json_decref(jv);
    free(name);
    free(value);
    p += len;
    if (*p)
      p++;
  }
  return list;
}

static json_t *summary(const struct inspect_entry *e)
{
  json_t *target = json_stringn(e->target.data ? e->target.data : "",
                                e->target.len);
  json_t *doc = json_pack(
      "{s:I,s:I,s:s,s:s,s:o,s:i,s:I,s:I,s:I,s:b}", "seq", (json_int_t)e->seq,
      "time_ms", (json_int_t)e->time_ms, "method", e->method, "host", e->host,
      "target", target ? target : json_string("(not UTF-8)"), "status",
      e->status, "duration_ms", (json_int_t)e->duration_ms, "request_size",
      (json_int_t)e->req_body.size, "response_size",
      (json_int_t)e->resp_body.size, "complete", e->complete);
  if (doc && e->replay_of)
    json_object_set_new(doc, "replay_of", json_integer((json_int_t)e->replay_of));
  return doc;
}

static json_t *detail(const struct inspect_entry *e)
{
  json_t *doc = summary(e);
  if (!doc)
    return NULL;
  json_object_set_new(doc, "request_headers", header_list(&e->req_headers));
  json_object_set_new(doc, "response_headers", header_list(&e->resp_headers));
  set_body(doc, "request_body", &e->req_body);
  set_body(doc, "response_body", &e->resp_body);
  return doc;
}

/* ---- checks ---- */

static bool is_http(const struct tunnel *t)
{
  return !strncmp(t->lease->public_url, "http://", 7) ||
         (!strncmp(t->lease->public_url, "https://", 8) &&
          t->tls_mode != TUNNEL_TLS_PASSTHROUGH);
}

static struct tunnel *inspected_tunnel(struct control_api *api,
                                       const char *id,
                                       struct http_response *resp)
{
  struct tunnel *t = tunnel_service_find(api->tunnels, id);
  if (!t) {
    api_reply_error(resp, 404, "not_found", "no such tunnel");
    return NULL;
  }
  if (!t->inspect) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "the inspector of tunnel %s is off: turn it on first (PUT "
             "/v1/tunnels/%s/inspect with {\"on\":true})",
             id, id);
    api_reply_error(resp, 409, "inspector_off", msg);
    return NULL;
  }
  return t;
}

/* The {seq} of /v1/tunnels/{id}/requests/{seq}[/replay]: 0 if not one. */
static uint64_t seq_of(const char *url)
{
  const char *p = strstr(url, "/requests/");
  if (!p)
    return 0;
  p += 10;
  char *end;
  unsigned long long n = strtoull(p, &end, 10);
  if (end == p || (*end && *end != '/' && *end != '?'))
    return 0;
  return n;
}

/* ---- on, off, list, one ---- */

void api_inspect_switch(struct control_api *api,
                        const struct http_request *req,
                        struct http_response *resp, const char *id,
                        const struct principal *who)
{
  struct tunnel *t = tunnel_service_find(api->tunnels, id);
  if (!t)
    return api_reply_error(resp, 404, "not_found", "no such tunnel");
  json_t *doc = api_body_object(req, resp);
  if (!doc)
    return;
  static const char *const fields[] = {"on", NULL};
  json_t *on = json_object_get(doc, "on");
  if (!api_only_fields(doc, fields, resp)) {
    json_decref(doc);
    return;
  }
  if (!json_is_boolean(on)) {
    json_decref(doc);
    return api_reply_error(resp, 400, "bad_request",
                           "give {\"on\": true} or {\"on\": false}");
  }
  bool want = json_is_true(on);
  json_decref(doc);
  if (want && !is_http(t))
    return api_reply_error(resp, 409, "not_http",
                           "the inspector reads HTTP requests: this tunnel "
                           "does not carry HTTP the server can read");
  if (want != (t->inspect != NULL)) {
    if (want) {
      t->inspect = inspect_ring_new();
      if (!t->inspect)
        return api_reply_error(resp, 500, "internal", "out of memory");
      api->tunnels->inspected = inspected;
      api->tunnels->inspected_arg = api;
    } else {
      inspect_ring_free(t->inspect); /* what it held goes now */
      t->inspect = NULL;
    }
    char why[192];
    snprintf(why, sizeof why, "by %s from %s", who->actor, req->peer_ip);
    api_audit_event(api, want ? "inspector-on" : "inspector-off",
                    t->lease->device_id, id, who->actor, why);
  }
  api_reply_json(resp, 200, json_pack("{s:s,s:b}", "id", id, "inspect", want));
}

void api_inspect_list(struct control_api *api, struct http_response *resp,
                      const char *id)
{
  struct tunnel *t = inspected_tunnel(api, id, resp);
  if (!t)
    return;
  json_t *list = json_array();
  for (unsigned i = 0; i < t->inspect->count; i++)
    json_array_append_new(list, summary(inspect_ring_at(t->inspect, i)));
  api_reply_json(resp, 200,
                 json_pack("{s:o,s:i,s:i}", "requests", list, "keep",
                           INSPECT_KEEP, "body_max", INSPECT_BODY_MAX));
}

void api_inspect_one(struct control_api *api, const struct http_request *req,
                     struct http_response *resp, const char *id)
{
  struct tunnel *t = inspected_tunnel(api, id, resp);
  if (!t)
    return;
  const struct inspect_entry *e = inspect_ring_get(t->inspect, seq_of(req->url));
  if (!e)
    return api_reply_error(resp, 404, "not_found",
                           "no such request: it may have been replaced by "
                           "newer ones");
  api_reply_json(resp, 200, detail(e));
}

/* ---- replay ---- */

struct replay {
  struct control_api *api;
  struct http_pending *pending;
  CURL *easy;
  struct curl_slist *headers;
  char tunnel_id[32];
  char nonce[33];
  uint64_t of;
  struct inspect_entry *answer; /* its status line, headers and body */
  bool answered;                /* done came before held */
};

static size_t got_header(char *data, size_t size, size_t n, void *arg)
{
  struct replay *r = arg;
  size_t len = size * n;
  if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
    strbuf_reset(&r->answer->resp_headers); /* a 100 Continue went before */
    return len;
  }
  while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;
  if (len && r->answer->resp_headers.len + len <= 16384) {
    strbuf_add(&r->answer->resp_headers, data, len);
    strbuf_add(&r->answer->resp_headers, "\n", 1);
  }
  return size * n;
}

static size_t got_body(char *data, size_t size, size_t n, void *arg)
{
  struct replay *r = arg;
  inspect_body_add(r->answer, &r->answer->resp_body, data, size * n);
  return size * n;
}

static void replay_free(struct replay *r)
{
  struct tunnel *t = tunnel_service_find(r->api->tunnels, r->tunnel_id);
  if (t && t->inspect)
    inspect_replay_claim(t->inspect, r->nonce, 32); /* if never used */
  curl_slist_free_all(r->headers);
  curl_easy_cleanup(r->easy);
  inspect_entry_free(r->answer);
  free(r);
}

static void replay_answer(struct replay *r, CURLcode result)
{
  struct http_response resp = {.status = 200};
  if (result != CURLE_OK) {
    char msg[300];
    snprintf(msg, sizeof msg,
             "the replay could not be sent through the public HTTP port: %s",
             curl_easy_strerror(result));
    api_reply_error(&resp, 502, "replay_failed", msg);
  } else {
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->answer->status = (int)status;
    json_t *doc = json_pack("{s:I,s:i,s:o}", "replay_of", (json_int_t)r->of,
                            "status", (int)status, "headers",
                            header_list(&r->answer->resp_headers));
    if (doc)
      set_body(doc, "body", &r->answer->resp_body);
    api_reply_json(&resp, 200, doc);
  }
  http_pending_answer(r->pending, &resp);
  replay_free(r);
}

static void replay_done(void *arg, CURL *easy, CURLcode result)
{
  (void)easy;
  replay_answer(arg, result);
}

static void held(void *arg, struct http_pending *pending)
{
  struct replay *r = arg;
  r->pending = pending;
  /* Started only now: done must find the request held. */
  if (curl_loop_add(r->api->replays, r->easy, replay_done, r) != 0)
    replay_answer(r, CURLE_FAILED_INIT);
}

/* Headers that describe the captured connection or its body's framing,
 * which the replay makes anew. */
static bool framing(const char *line, size_t len)
{
  static const char *const names[] = {"host", "content-length",
                                      "transfer-encoding", "connection",
                                      "expect", "keep-alive", "upgrade"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    size_t n = strlen(names[i]);
    if (len > n && line[n] == ':' && !strncasecmp(line, names[i], n))
      return true;
  }
  return false;
}

void api_inspect_replay(struct control_api *api,
                        const struct http_request *req,
                        struct http_response *resp, const char *id,
                        const struct principal *who)
{
  struct tunnel *t = inspected_tunnel(api, id, resp);
  if (!t)
    return;
  uint64_t seq = seq_of(req->url);
  const struct inspect_entry *e = inspect_ring_get(t->inspect, seq);
  if (!e)
    return api_reply_error(resp, 404, "not_found",
                           "no such request: it may have been replaced by "
                           "newer ones");
  if (e->req_body.cut)
    return api_reply_error(resp, 409, "body_cut",
                           "this request's body was longer than the "
                           "inspector keeps, so a replay would not be the "
                           "same request");
  char addr[64];
  uint16_t port;
  if (!api->tunnels->http ||
      http_ingress_local(api->tunnels->http, addr, sizeof addr, &port) != 0)
    return api_reply_error(resp, 409, "no_http_port",
                           "replays go through the server's public HTTP "
                           "port, and this server has none open");
  if (!api->replays)
    api->replays = curl_loop_new(api->events.loop);
  struct replay *r = calloc(1, sizeof *r);
  if (!api->replays || !r || !(r->answer = inspect_entry_new()) ||
      !(r->easy = curl_easy_init())) {
    if (r) {
      inspect_entry_free(r->answer);
      free(r);
    }
    return api_reply_error(resp, 500, "internal", "out of memory");
  }
  r->api = api;
  r->of = seq;
  snprintf(r->tunnel_id, sizeof r->tunnel_id, "%s", id);
  if (!inspect_replay_expect(t->inspect, seq, r->nonce)) {
    r->nonce[0] = '\0';
    replay_free(r);
    api_reply_error(resp, 429, "busy",
                    "other replays of this tunnel are under way; try again "
                    "in a moment");
    return api_retry_after(resp, 1000);
  }
  char url[512], line[400];
  snprintf(url, sizeof url, "http://%s%s%s:%u%.*s",
           strchr(addr, ':') ? "[" : "", addr, strchr(addr, ':') ? "]" : "",
           port, (int)e->target.len, e->target.data ? e->target.data : "/");
  snprintf(line, sizeof line, "Host: %s", e->host);
  r->headers = curl_slist_append(r->headers, line);
  snprintf(line, sizeof line, "%s: %s", INSPECT_REPLAY_HEADER, r->nonce);
  r->headers = curl_slist_append(r->headers, line);
  r->headers = curl_slist_append(r->headers, "Expect:");
  const char *p = e->req_headers.data ? e->req_headers.data : "";
  while (*p) {
    size_t len = strcspn(p, "\n");
    char *h = strndup(p, len);
    if (h && !framing(h, len))
      r->headers = curl_slist_append(r->headers, h);
    free(h);
    p += len + (p[len] ? 1 : 0);
  }
  CURL *c = r->easy;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, e->method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)REPLAY_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, got_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, got_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  if (!strcmp(e->method, "HEAD"))
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (e->req_body.size || e->req_body.kept.len) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)e->req_body.kept.len);
    curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS,
                     e->req_body.kept.data ? e->req_body.kept.data : "");
  }
  char why[192];
  snprintf(why, sizeof why, "request %llu, by %s from %s",
           (unsigned long long)seq, who->actor, req->peer_ip);
  api_audit_event(api, "request-replayed", t->lease->device_id, id,
                  who->actor, why);
  resp->later = held;
  resp->later_arg = r;
}

void control_api_inspect_close(struct control_api *api)
{
  if (api->replays)
    curl_loop_close(api->replays); /* replays under way are dropped */
  api->replays = NULL;
}
