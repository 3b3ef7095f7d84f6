/* The vhost transport: HTTP/2 streams straight over the device's TLS
 * session, without the WebSocket framing the websocket transport puts in
 * between. Meant for the server's public TLS port: a device dialling it
 * offers ALPN weft/1 and is handed to the control API there, so one port
 * (443) carries the login, the session and every https:// name. The port,
 * its SNI routing and TLS termination are the core's (core/ingress/tls_ingress.c);
 * the tunnel and session logic is shared with the websocket transport
 * (plugins/common/session.c); this file names the carrier (h2_carrier.c),
 * the endpoint and the options. Devices always dial with TLS, pinned to
 * the certificate they logged in over. */
#include <stddef.h>

#include <weft/weft.h>

#include "h2_carrier.h"
#include "session.h"

#define VHOST_ENDPOINT "/v1/vhost"

static const struct weft_option vhost_options[] = {
    SESSION_OPTIONS,
    WEFT_OPTIONS_END,
};

static int vh_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  return session_plugin_create(host, config, &h2_carrier, VHOST_ENDPOINT,
                               true, ctx);
}

static const struct weft_plugin vhost_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "vhost",
    .description = "streams multiplexed over HTTP/2 straight on TLS, for "
                   "many https names (and the device) on one TLS port",
    .version = "0.2.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_HTTP |
            WEFT_CAP_SNI,
    .options = vhost_options,
    .config_size = sizeof(struct session_conf),
    .create = vh_create,
    .destroy = session_plugin_destroy,
    .server_tunnel_open = session_server_tunnel_open,
    .server_stream_open = session_server_stream_open,
    .server_tunnel_close = session_server_tunnel_close,
    .client_tunnel_open = session_client_tunnel_open,
    .client_tunnel_close = session_client_tunnel_close,
    .status = session_plugin_status,
    .upgrade_path = VHOST_ENDPOINT,
    .server_upgrade = session_server_upgrade,
};

WEFT_PLUGIN_EXPORT(vhost_plugin)
