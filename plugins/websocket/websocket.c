/* The websocket transport: each tunnel is one WebSocket (RFC 6455, framed
 * by wslay) from the device to the server's control port (or its public
 * TLS port), and every public connection travels inside it as an HTTP/2
 * stream; UDP datagrams as messages of their own. The logic is the shared
 * session code (plugins/common/session.c); this file names the carrier
 * (ws_carrier.c), the endpoint and the options. */
#include <stddef.h>

#include <weft/weft.h>

#include "session.h"
#include "ws_carrier.h"

/* Where devices reach this transport on the control port. */
#define WS_ENDPOINT "/v1/ws"

static const struct weft_option websocket_options[] = {
    SESSION_OPTIONS,
    {"udp_flow_idle", WEFT_OPT_DURATION,
     offsetof(struct session_conf, udp_flow_idle_ms), "60s",
     "forget a UDP peer after this long without datagrams", NULL, 1000,
     86400000, 0},
    {"udp_max_flows", WEFT_OPT_INT,
     offsetof(struct session_conf, udp_max_flows), "1024",
     "UDP peers a tunnel keeps at once (the least recently heard goes)",
     NULL, 1, 65535, 0},
    {"wss", WEFT_OPT_BOOL, offsetof(struct session_conf, wss), "true",
     "device side: dial the server with TLS, pinned to the certificate the "
     "login was made over; false: plain ws:// (the server must allow "
     "plain_http from the device)",
     NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
};

static int ws_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  return session_plugin_create(host, config, &ws_carrier, WS_ENDPOINT, false,
                               ctx);
}

static const struct weft_plugin websocket_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "websocket",
    .description = "streams multiplexed over HTTP/2 inside a WebSocket "
                   "(ws/wss), for networks that pass only HTTP(S)",
    .version = "0.3.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_HTTP |
            WEFT_CAP_UDP | WEFT_CAP_SNI,
    .options = websocket_options,
    .config_size = sizeof(struct session_conf),
    .create = ws_create,
    .destroy = session_plugin_destroy,
    .server_tunnel_open = session_server_tunnel_open,
    .server_stream_open = session_server_stream_open,
    .server_datagram = session_server_datagram,
    .server_tunnel_close = session_server_tunnel_close,
    .client_tunnel_open = session_client_tunnel_open,
    .client_tunnel_close = session_client_tunnel_close,
    .status = session_plugin_status,
    .upgrade_path = WS_ENDPOINT,
    .server_upgrade = session_server_upgrade,
};

WEFT_PLUGIN_EXPORT(websocket_plugin)
