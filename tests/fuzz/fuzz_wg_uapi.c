/* wireguard-go's UAPI replies on arbitrary input: the get reply parser and
 * the set reply parser. Whatever the get parser accepts, written back as a
 * set request for its peers, must be a well-formed request: "set=1", known
 * keys only, one blank line at the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/wireguard/uapi.h"

static const char *const set_keys[] = {
    "private_key=", "listen_port=", "replace_peers=", "public_key=",
    "remove=", "preshared_key=", "endpoint=", "persistent_keepalive_interval=",
    "replace_allowed_ips=", "allowed_ip=", NULL};

static int known_line(const char *line, size_t len)
{
  for (int i = 0; set_keys[i]; i++) {
    size_t k = strlen(set_keys[i]);
    if (len > k && !memcmp(line, set_keys[i], k))
      return 1;
  }
  return 0;
}

/* "set=1\n", known key=value lines, then "\n" and nothing else. */
static void check_request(const char *req, size_t len)
{
  if (len < 7 || memcmp(req, "set=1\n", 6) || req[len - 1] != '\n' ||
      req[len - 2] != '\n' || strlen(req) != len)
    abort();
  for (size_t pos = 6; pos < len - 1;) {
    const char *nl = memchr(req + pos, '\n', len - pos);
    if (!nl || !known_line(req + pos, (size_t)(nl - (req + pos))))
      abort();
    pos = (size_t)(nl - req) + 1;
  }
}

static void rewrite(const struct wg_device_state *st)
{
  struct wg_peer_set *peers = calloc(st->peer_count + 1, sizeof *peers);
  if (!peers)
    return;
  for (size_t i = 0; i < st->peer_count; i++) {
    const struct wg_peer_state *s = &st->peers[i];
    struct wg_peer_set *p = &peers[i];
    memcpy(p->public_key, s->public_key, WG_KEY_LEN);
    p->has_endpoint = s->has_endpoint;
    p->endpoint_family = s->endpoint_family;
    memcpy(p->endpoint_addr, s->endpoint_addr, sizeof p->endpoint_addr);
    p->endpoint_port = s->endpoint_port;
    p->has_keepalive = true;
    p->keepalive_s = s->keepalive_s;
    p->replace_allowed_ips = true;
    p->allowed_ip_count = s->allowed_ip_count;
    memcpy(p->allowed_ips, s->allowed_ips, sizeof p->allowed_ips);
  }
  struct wg_device_set dev = {.has_private_key = st->has_private_key,
                              .has_listen_port = true,
                              .listen_port = st->listen_port};
  memcpy(dev.private_key, st->private_key, WG_KEY_LEN);
  size_t cap = 256 + 1024 * st->peer_count;
  char *req = malloc(cap), why[256];
  if (req) {
    int n = uapi_format_set(&dev, peers, st->peer_count, req, cap, why,
                            sizeof why);
    if (n < 0)
      abort(); /* what we read back we must be able to write */
    check_request(req, (size_t)n);
  }
  free(req);
  free(peers);
}

/* Errors go to logs: one line, no bytes from the input that could forge
 * another. */
static void check_why(const char *why)
{
  for (const char *c = why; *c; c++)
    if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  struct wg_device_state st;
  int code;
  char why[256] = "";
  if (uapi_parse_get(text, size, &st, &code, why, sizeof why) == 0) {
    if (code != 0)
      abort();
    rewrite(&st);
    wg_device_state_free(&st);
  } else if (st.peers || st.peer_count) {
    abort(); /* a refused reply leaves nothing to free */
  }
  check_why(why);
  if (uapi_parse_errno(text, size, &code, why, sizeof why) != 0)
    check_why(why);
  return 0;
}
