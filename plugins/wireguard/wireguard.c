/* The wireguard transport: one WireGuard peer per device, configured through
 * kernel generic netlink or, where the kernel has no WireGuard, through the
 * UAPI socket of a supervised wireguard-go. This file declares the plugin
 * and its options and hands each op to the server half (server.c) or the
 * device half (client.c); wireguard.h tells how a tunnel comes up. */
#include "wireguard.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "keys.h"
#include "nft.h"

static const struct weft_option wireguard_options[] = {
    {"backend", WEFT_OPT_ENUM, offsetof(struct wireguard_conf, backend),
     "auto",
     "kernel (generic netlink), uapi (wireguard-go), or auto to detect",
     "auto|kernel|uapi", 0, 0, 0},
    {"interface", WEFT_OPT_STRING, offsetof(struct wireguard_conf, interface),
     "weft0", "server: name of the WireGuard interface (devices name theirs "
     "wft + the tunnel id)", NULL, 0, 0, 0},
    {"listen_port", WEFT_OPT_INT, offsetof(struct wireguard_conf, listen_port),
     "30000", "server: UDP port the interface listens on", NULL, 1, 65535,
     0},
    {"endpoint", WEFT_OPT_STRING, offsetof(struct wireguard_conf, endpoint),
     "", "server: the host devices send WireGuard to (default: the host "
     "they reached the control port at)", NULL, 0, 0, 0},
    {"wireguard_go", WEFT_OPT_STRING,
     offsetof(struct wireguard_conf, wireguard_go), "wireguard-go",
     "the userspace WireGuard program for the uapi backend", NULL, 0, 0, 0},
    {"wireguard_go_log", WEFT_OPT_ENUM,
     offsetof(struct wireguard_conf, wireguard_go_log), "error",
     "what wireguard-go logs (as records of this log, \"wireguard-go: "
     "...\"): error, or verbose (its debug lines, at debug level)",
     "error|verbose", 0, 0, 0},
    {"persistent_keepalive", WEFT_OPT_DURATION,
     offsetof(struct wireguard_conf, keepalive_ms), "25s",
     "keepalive the device sends so NAT keeps its mapping", NULL, 0, 65535000,
     0},
    {"session_ping", WEFT_OPT_DURATION,
     offsetof(struct wireguard_conf, session_ping_ms), "15s",
     "server: how often devices' sessions say they are alive (three "
     "missed: the peer goes); devices follow the server's figure",
     NULL, 200, 3600000, 0},
    {"reconnect_min", WEFT_OPT_DURATION,
     offsetof(struct wireguard_conf, reconnect_min_ms), "1s",
     "device: first delay before opening a lost session again (doubles, "
     "with jitter)", NULL, 100, 3600000, 0},
    {"reconnect_max", WEFT_OPT_DURATION,
     offsetof(struct wireguard_conf, reconnect_max_ms), "60s",
     "device: longest delay between session attempts", NULL, 1000, 86400000,
     0},
    {"activity_poll", WEFT_OPT_DURATION,
     offsetof(struct wireguard_conf, activity_poll_ms), "10s",
     "server: how often operator traffic to devices is checked for the idle "
     "timer", NULL, 200, 3600000, 0},
    {"kernel_path", WEFT_OPT_ENUM, offsetof(struct wireguard_conf, kernel_path),
     "auto",
     "published ports NATed by the kernel straight to the device (server) "
     "and on to a loopback service (device), so no byte passes through "
     "weft; off: relay every connection through weft",
     "auto|off", 0, 0, 0},
    WEFT_OPTIONS_END,
};

int wg_parse_ports(const char *text, struct nft_port_range *out, size_t max)
{
  size_t n = 0;
  const char *p = text ? text : "";
  while (*p) {
    char *end;
    long lo = strtol(p, &end, 10), hi = lo;
    if (end == p)
      return -1;
    if (*end == '-') {
      p = end + 1;
      hi = strtol(p, &end, 10);
      if (end == p)
        return -1;
    }
    if (lo < 1 || hi > 65535 || lo > hi || n == max ||
        (*end && *end != ','))
      return -1;
    out[n++] = (struct nft_port_range){(uint16_t)lo, (uint16_t)hi};
    p = *end ? end + 1 : end;
  }
  return (int)n;
}

void wg_unref(struct wireguard *wg)
{
  assert(wg->refs > 0);
  if (--wg->refs == 0 && wg->destroyed)
    wg->host->free(wg);
}

static int wg_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  const struct wireguard_conf *conf = config;
  int rc = weft_reconnect_check(host, conf->reconnect_min_ms,
                                conf->reconnect_max_ms);
  if (rc != 0)
    return rc;
  if (wg_keys_init() != 0) {
    host->log(host, WEFT_LOG_ERROR, "libsodium did not initialise");
    return WEFT_EIO;
  }
  struct wireguard *wg = host->calloc(1, sizeof *wg);
  if (!wg)
    return WEFT_ENOMEM;
  wg->host = host;
  wg->conf = conf;
  wg->refs = 1;
  /* A server (it has a pool and a state directory) brings its interface
   * up now, so restored tunnels find it; elsewhere (weft tunnel, weft
   * plugins) nothing is touched until a tunnel asks. */
  if (WEFT_HOST_HAS(host, server_address) && host->pool && host->state_dir) {
    rc = wg_server_start(wg);
    if (rc != 0) {
      host->free(wg);
      return rc;
    }
  }
  *ctx = wg;
  return 0;
}

static void wg_destroy(void *ctx)
{
  struct wireguard *wg = ctx;
  assert(!wg->destroyed);
  wg_server_stop(wg);
  wg_client_stop(wg);
  /* Both halves let go of what they held in the struct. */
  assert(!wg->server && !wg->client);
  wg->destroyed = true;
  wg_unref(wg);
}

static const char *wg_status(void *ctx)
{
  struct wireguard *wg = ctx;
  if (wg->server)
    wg_server_status(wg, wg->status, sizeof wg->status);
  else if (wg->client)
    wg_client_status(wg, wg->status, sizeof wg->status);
  else
    wg_backend_probe(wg->conf->backend, wg->conf->wireguard_go, wg->status,
                     sizeof wg->status);
  return wg->status;
}

static const struct weft_plugin wireguard_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "wireguard",
    .description = "a WireGuard peer per device (kernel netlink or "
                   "wireguard-go UAPI), host-only reach",
    .version = "0.2.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_UDP |
            WEFT_CAP_ADDRESS,
    .options = wireguard_options,
    .config_size = sizeof(struct wireguard_conf),
    .create = wg_create,
    .destroy = wg_destroy,
    .server_tunnel_open = wg_server_tunnel_open,
    .server_stream_open = wg_server_stream_open,
    .server_datagram = wg_server_datagram,
    .server_tunnel_close = wg_server_tunnel_close,
    .client_tunnel_open = wg_client_tunnel_open,
    .client_tunnel_close = wg_client_tunnel_close,
    .status = wg_status,
    .upgrade_path = SESSION_PATH,
    .server_upgrade = wg_server_upgrade,
    .client_tunnel_prepare = wg_client_tunnel_prepare,
    .server_tunnel_reach = wg_server_tunnel_reach,
};

WEFT_PLUGIN_EXPORT(wireguard_plugin)
