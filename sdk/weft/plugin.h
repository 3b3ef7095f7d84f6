/* Weft SDK: the transport plugin descriptor and its ops.
 *
 * A plugin is a shared object that exports one function, weft_plugin_entry(),
 * returning a pointer to a constant `struct weft_plugin`. Write it with
 * designated initializers, start it with WEFT_PLUGIN_HEADER (so you never
 * type the ABI fields yourself) and export it with WEFT_PLUGIN_EXPORT:
 *
 *   static const struct weft_plugin my_plugin = {
 *     WEFT_PLUGIN_HEADER,
 *     .name = "example",
 *     .description = "what it carries and for whom",
 *     .version = "0.1.0",
 *     .caps = WEFT_CAP_CLIENT,
 *     .create = my_create, .destroy = my_destroy,
 *     .client_tunnel_open = my_open, .client_tunnel_close = my_close,
 *   };
 *   WEFT_PLUGIN_EXPORT(my_plugin)
 *
 * Ops a plugin does not support stay NULL. The loader refuses a plugin that
 * declares a capability without the ops it needs (see the caps below).
 *
 * Lifecycle, in this order, all on the loop's thread:
 *   1. weft_plugin_entry()   once, right after dlopen; must not fail or
 *                            allocate; the descriptor must live until unload.
 *   2. create(host, config, &ctx)
 *                            once. `config` is the plugin's [transport.NAME]
 *                            struct, filled by the core from `options`
 *                            (owned by the core, valid until destroy returns).
 *                            Return 0 and set *ctx, or a negative code and
 *                            log why: the plugin is then refused, and destroy
 *                            is not called.
 *   3. tunnel ops            any number, any order, for many tunnels. Each
 *                            *_tunnel_open that returns 0 is matched by
 *                            exactly one *_tunnel_close of the same tunnel.
 *   4. destroy(ctx)          once, after every tunnel was closed. Close
 *                            every handle, stream and timer the plugin
 *                            holds; free ctx now, or in the last callback
 *                            that still needs it.
 *   5. the loop runs         until those callbacks, and those of dials in
 *                            flight, have come (see host.h).
 *   6. dlclose               nothing of the plugin may run after this.
 *
 * Errors: 0 or a negative code from <weft/errors.h>, plus a log line through
 * the host that says what went wrong. If an op that takes a callback fails
 * synchronously, the callback is never called.
 *
 * Versioning: the ABI major changes only when this struct or the host table
 * change incompatibly; the loader refuses another major. Minors only append
 * fields; the core reads an op only if the plugin's struct_size covers it.
 * Changelog:
 *   1.0  descriptor, lifecycle, server/client tunnel ops, stats, status,
 *        upgrade_path/server_upgrade.
 *   1.1  server_datagram; weft_tunnel_info.server_cert_sha256.
 *   1.2  client_tunnel_prepare (device-side parameters, standalone
 *        tunnels); weft_tunnel_info.expires_at and the parsed local and
 *        remote (local_host/port, remote_host/port).
 *   1.3  weft_tunnel_info.reach_ports; server_tunnel_reach (an ACL change
 *        on a live tunnel).
 *   1.4  weft_tunnel_info.public_allow and public_conns_per_ip (the public
 *        port's source policy, for a plugin that carries public
 *        connections itself, e.g. in the kernel).
 *   1.5  host->audit (a plugin's own events in the server's audit trail).
 *   1.6  host->token_renew_start (a device's token renewal that does not
 *        block its loop); sdk/weft/reconnect.h uses it where it exists.
 */
#ifndef WEFT_PLUGIN_H
#define WEFT_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <weft/errors.h>
#include <weft/host.h>
#include <weft/http.h>
#include <weft/options.h>
#include <weft/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_ABI_MAJOR 1
#define WEFT_ABI_MINOR 6

/* The symbol the loader looks up in every plugin. */
#define WEFT_PLUGIN_ENTRY_SYMBOL "weft_plugin_entry"

enum weft_capability {
  WEFT_CAP_SERVER = 1u << 0, /* admits device sessions on `weft server` */
  WEFT_CAP_CLIENT = 1u << 1, /* dials the server from `weft tunnel` */
  WEFT_CAP_TCP = 1u << 2,    /* carries public TCP connections */
  WEFT_CAP_UDP = 1u << 3,    /* carries public UDP datagrams */
  WEFT_CAP_HTTP = 1u << 4,   /* carries HTTP routed by Host or path */
  WEFT_CAP_SNI = 1u << 5,    /* carries TLS routed by SNI */
  WEFT_CAP_ADDRESS = 1u << 6,/* gives each device an address from the pool */
};

/* A key/value pair, e.g. transport parameters from the create-tunnel answer.
 * It comes in arrays, which both sides step through by its size as each
 * was built: so it never grows (in ABI 1). What a later minor needs beside
 * it comes in a new struct that a new, struct_size-checked field points
 * to. The same holds for struct weft_option and struct weft_http_header. */
struct weft_kv {
  const char *key;
  const char *value;
};

/* What the core tells a plugin about one tunnel. Owned by the core, valid
 * until the tunnel's close op returns; copy what you keep longer. */
struct weft_tunnel_info {
  uint32_t struct_size;         /* sizeof as the core built it */
  const char *id;               /* the server's tunnel id */
  const char *name;             /* [tunnel "NAME"], or NULL from the CLI */
  const char *device_id;        /* the device that owns the tunnel */
  const char *local_url;        /* the service on the device, validated */
  const char *remote_url;       /* what to publish; NULL: the server picks */
  const void *tunnel_config;    /* per-tunnel options struct, or NULL */
  /* Client side: the parameters the server's side of the transport added.
   * Server side (1.2): those the device's client_tunnel_prepare added, or
   * none (also when a tunnel is restored after a restart). */
  const struct weft_kv *params;
  size_t param_count;
  const char *server_host;      /* client side: the server to dial */
  uint16_t server_port;
  const char *token;            /* client side: the orchestration token */
  /* Server side: the tunnel's lease. */
  const char *address;          /* pool address ("10.1.0.7"), or NULL */
  const char *public_proto;     /* "tcp"/"udp" with public_port, or NULL */
  uint16_t public_port;
  const char *hostname;         /* published host name, or NULL */
  int64_t idle_timeout_s;
  /* Server side, during server_tunnel_open only: hand the device the
   * parameters it needs (they travel in the create-tunnel answer and reach
   * the client's client_tunnel_open as `params`). */
  void (*add_param)(void *param_ctx, const char *key, const char *value);
  void *param_ctx;
  /* Client side: the server's control-port certificate (hex SHA-256) as
   * the core verified it by logging in over it: dial server_host with TLS
   * pinned to it. It points into the core and stays valid until
   * client_tunnel_close; a re-login (token_renew may do one) that meets a
   * new certificate updates it, so read it at each dial. NULL: plain. */
  const char *server_cert_sha256;
  /* Server side (1.2): when the tunnel's lease ends, wall-clock seconds, or
   * 0 for none. Client side: 0. */
  int64_t expires_at;
  /* 1.2: local_url and remote_url as the core parsed and checked them, so
   * a plugin never splits a URL itself. local_port is the URL's port or its
   * scheme's default. remote_host is "" and remote_port 0 where the remote
   * leaves them out (or there is none). IPv6 hosts come without brackets. */
  const char *local_host;
  uint16_t local_port;
  const char *remote_host;
  uint16_t remote_port;
  /* Server side (1.3): the device's ports its ACL lets operators reach,
   * as "22,80,8000-8100" ("" for none). Client side: NULL. */
  const char *reach_ports;
  /* Server side (1.4): who may connect to the public port, as the core's
   * own listener checks it: NULL for anyone, else comma-separated prefixes
   * ("192.0.2.0/24,2001:db8::/32"; IPv4 never in ::ffff: form; "" for no
   * one), and how
   * many connections one source address may hold at once. A plugin that
   * carries public connections without the core's listener (e.g. with
   * kernel NAT) must apply both. Client side: NULL and 0. */
  const char *public_allow;
  unsigned public_conns_per_ip;
};

/* True when the core that built `info` filled `field` (check it before
 * reading a field a later minor added). */
#define WEFT_INFO_HAS(info, field)                                           \
  (offsetof(struct weft_tunnel_info, field) + sizeof((info)->field) <=       \
   (info)->struct_size)

/* The value of parameter `key` in info->params, or NULL. */
static inline const char *weft_tunnel_param(const struct weft_tunnel_info *info,
                                            const char *key)
{
  for (size_t i = 0; i < info->param_count; i++)
    if (strcmp(info->params[i].key, key) == 0)
      return info->params[i].value;
  return NULL;
}

/* client_tunnel_prepare's answer for a tunnel that needs no weft server. */
#define WEFT_STANDALONE 1

/* Counters a plugin reports for one tunnel (or all, with tunnel_ctx NULL). */
struct weft_stats {
  uint32_t struct_size;
  uint64_t bytes_to_device;
  uint64_t bytes_from_device;
  uint64_t streams_open;
  uint64_t streams_total;
  uint64_t reconnects;
};

struct weft_plugin {
  /* Filled by WEFT_PLUGIN_HEADER. */
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t struct_size;

  const char *name;        /* [a-z0-9_-]{1,31}, unique among loaded plugins */
  const char *description; /* one line */
  const char *version;     /* the plugin's own version */
  uint32_t caps;           /* enum weft_capability bits */

  /* [transport.NAME] keys, and the size of the struct they fill. */
  const struct weft_option *options;
  size_t config_size;
  /* Keys a [tunnel "X"] section using this transport may add, and the size
   * of the per-tunnel struct they fill (passed as tunnel_config). */
  const struct weft_option *tunnel_options;
  size_t tunnel_config_size;

  /* Lifecycle (required). */
  int (*create)(const struct weft_host *host, const void *config, void **ctx);
  void (*destroy)(void *ctx);

  /* Server side. Required with WEFT_CAP_SERVER: server_tunnel_open and
   * server_tunnel_close; server_stream_open as well with TCP, HTTP or SNI;
   * server_datagram as well with UDP. */
  int (*server_tunnel_open)(void *ctx, const struct weft_tunnel_info *tunnel,
                            void **tunnel_ctx);
  /* A public connection for the tunnel (TCP, or HTTP/TLS the core routed
   * to it). Returns 0: the plugin owns public_conn from now on (see
   * "Streams" in host.h) and closes it, or attaches a pipe to it, when it
   * likes. Returns a negative code: the core closes public_conn; the
   * plugin must not have started, attached or closed it, nor keep it. */
  int (*server_stream_open)(void *ctx, void *tunnel_ctx,
                            struct weft_stream *public_conn);
  int (*server_datagram)(void *ctx, void *tunnel_ctx,
                         const struct weft_udp_peer *peer, const void *data,
                         size_t len);
  /* reason: 0, the tunnel is over (deleted; forget it); WEFT_ETIMEDOUT,
   * its lease ended (expiry or idle timeout; forget it); WEFT_ECANCELED,
   * the server is stopping and the lease stays for the next start (keep
   * what a restored tunnel will need).
   * When it returns, the core closes the tunnel's public connections that
   * are still open (pipes hear closed(), raw streams on_closed()). A
   * public connection the plugin holds but has neither started nor
   * attached hears nothing: close it here, at the latest; it must not be
   * touched after this returns. */
  void (*server_tunnel_close)(void *ctx, void *tunnel_ctx, int reason);

  /* Client side. Required with WEFT_CAP_CLIENT. */
  int (*client_tunnel_open)(void *ctx, const struct weft_tunnel_info *tunnel,
                            void **tunnel_ctx);
  void (*client_tunnel_close)(void *ctx, void *tunnel_ctx);

  /* Optional. stats fills *out (tunnel_ctx NULL: the whole plugin). status
   * returns one line for `weft plugins` (e.g. which backend is in use),
   * owned by the plugin and valid until the next call. */
  int (*stats)(void *ctx, void *tunnel_ctx, struct weft_stats *out);
  const char *(*status)(void *ctx);

  /* Server side, optional: devices reach this transport on the control
   * port with an HTTP Upgrade to `upgrade_path` (e.g. "/v1/ws"). The core
   * hands server_upgrade the request and the connection; the plugin must
   * verify the device's orchestration token (host->token_verify) before it
   * answers 101. Returns 0: the plugin owns conn (see "Streams" in host.h)
   * and answers it, errors too; bytes the device sent after the request
   * come first once it starts or attaches conn. Returns a negative code:
   * the core answers 503 and closes conn; the plugin must not have
   * started, attached or closed it. */
  const char *upgrade_path;
  int (*server_upgrade)(void *ctx, const struct weft_http_request *req,
                        struct weft_stream *conn);

  /* Since 1.2. Client side, optional: called before the core asks the
   * server for the tunnel (tunnel->id is NULL then). Add parameters for the
   * transport's server side with tunnel->add_param: they travel in the
   * create request and reach server_tunnel_open as tunnel->params. State
   * the plugin sets in *tunnel_ctx is handed back to client_tunnel_open in
   * its *tunnel_ctx, which then owns it even if it fails; if the core does
   * not get that far (the server refused the tunnel), client_tunnel_close
   * is called with it instead.
   * Returns 0 (ask the server), WEFT_STANDALONE (this tunnel needs no weft
   * server: client_tunnel_open follows at once, with the tunnel's name as
   * its id and no token or server), or a negative code. */
  int (*client_tunnel_prepare)(void *ctx, const struct weft_tunnel_info *tunnel,
                               void **tunnel_ctx);

  /* Since 1.3. Server side, optional: the device's ACL changed (the
   * server re-read its configuration) while the tunnel lives; reach_ports
   * as in weft_tunnel_info. */
  void (*server_tunnel_reach)(void *ctx, void *tunnel_ctx,
                              const char *reach_ports);
};

#define WEFT_PLUGIN_HEADER                                                   \
  .abi_major = WEFT_ABI_MAJOR, .abi_minor = WEFT_ABI_MINOR,                  \
  .struct_size = sizeof(struct weft_plugin)

/* The same fields, for a descriptor filled field by field. That is the way
 * in C++, where g++ -Wextra warns about designated initializers that leave
 * fields out:
 *
 *   static weft_plugin describe()
 *   {
 *     weft_plugin d = {};
 *     weft_plugin_header(&d);
 *     d.name = "example";
 *     ...
 *     return d;
 *   }
 *   static const weft_plugin my_plugin = describe();
 *   WEFT_PLUGIN_EXPORT(my_plugin)
 */
static inline void weft_plugin_header(struct weft_plugin *d)
{
  d->abi_major = WEFT_ABI_MAJOR;
  d->abi_minor = WEFT_ABI_MINOR;
  d->struct_size = sizeof(struct weft_plugin);
}

/* The smallest struct_size an ABI 1.x plugin may declare: everything up to
 * and including the 1.0 ops. */
#define WEFT_PLUGIN_MIN_SIZE_1                                               \
  (offsetof(struct weft_plugin, server_upgrade) + sizeof(void *))

/* The entry keeps its C name in a C++ plugin too: the loader looks it up
 * by that name. */
#ifdef __cplusplus
#define WEFT_EXTERN_C extern "C"
#else
#define WEFT_EXTERN_C
#endif

#define WEFT_PLUGIN_EXPORT(descriptor)                                       \
  WEFT_EXTERN_C __attribute__((visibility("default")))                       \
  const struct weft_plugin *weft_plugin_entry(void);                         \
  WEFT_EXTERN_C __attribute__((visibility("default")))                       \
  const struct weft_plugin *weft_plugin_entry(void)                          \
  {                                                                          \
    return &(descriptor);                                                    \
  }

typedef const struct weft_plugin *(*weft_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_PLUGIN_H */
