// A transport plugin in C++, built by sdk_cxx.sh: the SDK's headers,
// macros and inline helpers must compile as C++17 and the plugin must
// load (its entry keeps its C name). It carries no bytes: its server side
// refuses every session and connection.
#include <cstdarg>
#include <cstddef>
#include <cstdint>

#include <weft/weft.h>

namespace {

struct cxx_conf {
  const char *greeting;
  int64_t interval_ms;
};

const weft_option cxx_options[] = {
    {"greeting", WEFT_OPT_STRING, offsetof(cxx_conf, greeting), "hello",
     "what to log for each open tunnel", nullptr, 0, 0, 0},
    {"interval", WEFT_OPT_DURATION, offsetof(cxx_conf, interval_ms), "10s",
     "unused", nullptr, 100, 3600000, 0},
    WEFT_OPTIONS_END,
};

struct cxx_plugin {
  const weft_host *host;
  const cxx_conf *conf;
};

// A log wrapper, as a plugin that tags its lines would have.
void cxx_log(const weft_host *host, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cxx_log(const weft_host *host, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  weft_vlog(host, WEFT_LOG_INFO, fmt, ap);
  va_end(ap);
}

int cxx_create(const weft_host *host, const void *config, void **ctx)
{
  if (!WEFT_HOST_HAS(host, lease_touch))
    return WEFT_ENOTSUP;
  auto *p = static_cast<cxx_plugin *>(host->calloc(1, sizeof(cxx_plugin)));
  if (!p)
    return WEFT_ENOMEM;
  p->host = host;
  p->conf = static_cast<const cxx_conf *>(config);
  *ctx = p;
  return 0;
}

void cxx_destroy(void *ctx)
{
  auto *p = static_cast<cxx_plugin *>(ctx);
  p->host->free(p);
}

int cxx_open(void *ctx, const weft_tunnel_info *info, void **tunnel_ctx)
{
  auto *p = static_cast<cxx_plugin *>(ctx);
  if (!WEFT_INFO_HAS(info, local_port))
    return WEFT_ENOTSUP;
  const char *path = weft_tunnel_param(info, "path");
  cxx_log(p->host, "%s from %s (%s)", p->conf->greeting, info->id,
          path ? path : weft_strerror(WEFT_ENOENT));
  weft_report_tunnel(p->host, info->id, WEFT_TUNNEL_UP, 0, "up in %s", "C++");
  *tunnel_ctx = p;
  return 0;
}

void cxx_close(void *ctx, void *tunnel_ctx)
{
  (void)ctx;
  (void)tunnel_ctx;
}

int cxx_server_open(void *ctx, const weft_tunnel_info *info, void **tunnel_ctx)
{
  (void)info;
  *tunnel_ctx = ctx;
  return 0;
}

int cxx_stream_open(void *ctx, void *tunnel_ctx, weft_stream *public_conn)
{
  (void)ctx;
  (void)tunnel_ctx;
  (void)public_conn;
  return WEFT_ECONNREFUSED; // the core closes public_conn
}

void cxx_server_close(void *ctx, void *tunnel_ctx, int reason)
{
  (void)ctx;
  (void)tunnel_ctx;
  (void)reason;
}

int cxx_upgrade(void *ctx, const weft_http_request *req, weft_stream *conn)
{
  (void)ctx;
  (void)conn;
  const char *token = weft_http_bearer(req);
  bool upgrade = weft_http_has_token(weft_http_header(req, "connection"),
                                     "upgrade");
  return token && upgrade ? WEFT_ENOTBUILT : WEFT_EAUTH;
}

weft_plugin describe()
{
  weft_plugin d = {};
  weft_plugin_header(&d);
  d.name = "cxx";
  d.description = "a C++ plugin: the SDK compiles as C++";
  d.version = "1.0.0";
  d.caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP;
  d.options = cxx_options;
  d.config_size = sizeof(cxx_conf);
  d.create = cxx_create;
  d.destroy = cxx_destroy;
  d.server_tunnel_open = cxx_server_open;
  d.server_stream_open = cxx_stream_open;
  d.server_tunnel_close = cxx_server_close;
  d.client_tunnel_open = cxx_open;
  d.client_tunnel_close = cxx_close;
  d.upgrade_path = "/v1/cxx";
  d.server_upgrade = cxx_upgrade;
  return d;
}

const weft_plugin cxx_descriptor = describe();

} // namespace

WEFT_PLUGIN_EXPORT(cxx_descriptor)
