/* weft.conf: parsed with libinih, validated against the core's own keys and
 * each plugin's declared options, with every error naming file:line.
 *
 *   [server]               the core's keys (server_options in config.c)
 *   [tunnel "NAME"]        transport =, local =, remote =, device_id =, plus
 *                          the keys that transport declares per tunnel
 *   [transport.NAME]       the options plugin NAME declares
 *   [class "NAME"]         ACL defaults for a class of devices (core/auth/acl.h)
 *   [device "ID"]          one device: class = NAME, and ACL overrides
 */
#ifndef WEFT_CORE_CONFIG_H
#define WEFT_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/options.h>

#include "base/strbuf.h"
#include "base/strpool.h"
#include "base/url.h"

struct acl_policy;
struct plugin;
struct plugin_registry;

/* The [server] section. Strings belong to the conf. */
struct server_conf {
  const char *listen;       /* "HOST:PORT[, HOST:PORT...]" */
  const char *http_listen;  /* public HTTP port (Host and path routing) */
  const char *tls_listen;   /* public TLS port (SNI routing) */
  const char *tls_certs_dir;/* certificates for terminated host names */
  const char *tls_default_host; /* where unmatched TLS visitors go */
  const char *tls_control;  /* auto|on|off: the control API on the TLS port */
  int64_t client_hello_timeout_ms;
  bool https_redirect;
  const char *acme_directory;
  const char *acme_ca_file;
  const char *public_host;  /* host printed in the connection string */
  const char *state_dir;    /* NULL: /var/lib/weft as root, else ~/.local/state/weft */
  const char *secret_file;  /* also write the connection string here */
  const char *tls_cert;     /* control port TLS: PEM chain, or NULL */
  const char *tls_key;      /* and its key; NULL/NULL: self-signed */
  const char *plain_http;   /* loopback|on|off: control API without TLS */
  bool use_secret_per_ip;
  const char *email;        /* ACME account address */
  const char *admins;       /* device ids that may approve tunnels */
  const char *log_level;    /* error|warning|info|debug */
  const char *log_format;   /* text|json */
  const char *opentelemetry;/* OTLP connection string, or NULL */
  int64_t idle_timeout_ms;  /* a lease ends after this long without traffic */
  int64_t lease_ttl_ms;     /* a lease's term, renewed while in use */
  int64_t max_lifetime_ms;  /* a hard end after creation; 0: none */
  const char *pool;         /* virtual address pool, CIDR */
  const char *port_range;   /* public ports the server hands out */
  int64_t ip_quarantine_ms; /* a freed address waits this long for reuse */
  const char *metrics_allow;/* who may read /metrics: "any" or prefixes */
  int64_t metrics_max_series; /* per tunnel/device series; more: (other) */
  int64_t max_tunnels;      /* live tunnels in all */
  int64_t header_timeout_ms;/* control API: a request's headers and body */
  int64_t keepalive_timeout_ms; /* control API: idle time between requests */
  int64_t max_conns;        /* control API connections in all */
  int64_t max_conns_per_ip; /* control API connections from one address */
  int64_t public_conns_per_ip; /* a tunnel's public connections from one address */
  int64_t response_timeout_ms; /* public HTTP: 504 when the service is silent */
  const char *enrollment;      /* "open" or "closed" (device keys) */
  int64_t send_timeout_ms;     /* public HTTP: a visitor that reads nothing */
  int64_t body_timeout_ms;     /* public HTTP: a request body's grace */
};

struct conf_entry {
  const char *key;
  const char *value;
  int line;
};

enum conf_section_kind {
  SECTION_SERVER,
  SECTION_TUNNEL,
  SECTION_TRANSPORT,
  SECTION_CLASS,  /* [class "NAME"]: ACL defaults for a kind of device */
  SECTION_DEVICE, /* [device "ID"]: one device's class and overrides */
};

struct conf_section {
  enum conf_section_kind kind;
  const char *name; /* tunnel or transport name; NULL for [server] */
  int line;
  struct conf_entry *entries;
  size_t count, cap;
};

struct conf_tunnel {
  const char *name;
  int line;
  const char *transport;
  const char *local_text;
  const char *remote_text; /* NULL: the server assigns */
  const char *device_id;   /* NULL: the machine's id */
  const char *tls_secret;  /* a PEM file for an https remote, or NULL */
  struct url local;
  struct url remote;
  bool has_remote;
  void *plugin_config; /* the transport's per-tunnel struct, or NULL */
};

struct conf {
  char *path; /* NULL for the embedded defaults */
  struct server_conf server;
  struct conf_section *sections;
  size_t section_count;
  struct conf_tunnel *tunnels;
  size_t tunnel_count;
  struct strpool strings;
};

/* The [server] keys, for --help and docs. */
extern const struct weft_option conf_server_options[];

/* Embedded defaults: no file, every default applied. */
struct conf *conf_defaults(void);

/* Parses and validates; on failure returns NULL and appends one line per
 * problem ("FILE:LINE: message") to errors. reg supplies the transports. */
struct conf *conf_load_file(const char *path, const struct plugin_registry *reg,
                            struct strbuf *errors);
struct conf *conf_load_buffer(const char *name, const char *text, size_t len,
                              const struct plugin_registry *reg,
                              struct strbuf *errors);
void conf_free(struct conf *conf);

/* Fills a plugin's [transport.NAME] struct from the conf arg points at
 * (already checked when it was loaded): the plugin_options_fn that
 * plugin_registry_start takes. arg NULL: nothing to fill. */
int conf_plugin_options(const void *arg, const struct plugin *plugin,
                        void *dst, struct strpool *pool, char *err,
                        size_t errlen);

/* The ACL policy of its [class] and [device] sections (acl.h); NULL conf:
 * defaults only. 0, or -1 when out of memory. */
int conf_acl_policy(const struct conf *conf, struct acl_policy *policy);

/* One line per difference between two confs ("tunnel "x": added"). */
void conf_describe_changes(const struct conf *old, const struct conf *new_conf,
                           struct strbuf *out);

/* Checks that a local/remote pair makes sense and that plugin can carry it.
 * remote may be NULL. Used for weft.conf and the command line alike. */
int tunnel_spec_check(const struct url *local, const struct url *remote,
                      const struct plugin *plugin, char *err, size_t errlen);

/* A TLS secret (--tls-secret, tls_secret =) goes with an https remote the
 * server terminates: a local http:// service. 0, or -1 with err. */
int tls_secret_check(const struct url *local, const struct url *remote,
                     char *err, size_t errlen);

#endif
