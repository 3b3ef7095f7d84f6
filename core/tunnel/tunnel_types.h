/* The server's tunnels as data: a tunnel (its lease joined to the
 * transport that carries it, and its public side) and the tunnel service
 * that holds them. Types only; what acts on them is tunnels.h, and a
 * tunnel's own public ports are tunnel_ports.c, which needs only these. */
#ifndef WEFT_CORE_TUNNEL_TYPES_H
#define WEFT_CORE_TUNNEL_TYPES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth/acl.h"
#include "base/prom.h"
#include "tunnel/leases.h"
#include "base/str_index.h"
#include "auth/tokens.h"

struct plugin;
struct plugin_registry;

struct tunnel_ports;
struct http_ingress;
struct tls_ingress;
struct cert_store;

/* How the public TLS port serves a tunnel. */
/* Why a tunnel ended, for the metrics (tunnel_metrics.c). */
enum tunnel_end {
  TUNNEL_END_DELETED,
  TUNNEL_END_REVOKED,
  TUNNEL_END_REPLACED,
  TUNNEL_END_EXPIRED,
  TUNNEL_END_IDLE_TIMEOUT,
  TUNNEL_END_MAX_LIFETIME,
  TUNNEL_END_OTHER,
  TUNNEL_END_COUNT
};

/* Visitors' HTTP answers by class: 1xx .. 5xx. */
#define TUNNEL_HTTP_CLASSES 5

/* What tunnels carried, summed: a device's ended tunnels, or the ended
 * tunnels beyond the metrics cap. */
struct tunnel_totals {
  uint64_t bytes_in, bytes_out, conns_total, sessions, reconnects;
  uint64_t http[TUNNEL_HTTP_CLASSES];
  struct prom_histogram http_latency;
};

/* A device's series while the server runs (never freed before it stops;
 * at most [server] metrics_max_series of them, the rest share one). */
struct device_metrics {
  char *id;                 /* PROM_OTHER for the shared one */
  size_t index;             /* in tunnel_metrics.devices */
  struct tunnel_totals retired;
  uint64_t created, ended[TUNNEL_END_COUNT];
};

struct tunnel_metrics {
  size_t cap;               /* tunnels, and devices, with their own series */
  size_t own;               /* live tunnels with their own series */
  struct tunnel_totals other_retired; /* ended tunnels beyond the cap */
  struct str_index by_device;
  struct device_metrics **devices;
  size_t device_count, device_alloc;
  struct device_metrics other_device;
  bool other_tunnels_used, other_devices_used; /* the cap was reached */
};

enum tunnel_tls {
  TUNNEL_TLS_NONE,        /* its remote is not https://NAME */
  TUNNEL_TLS_PASSTHROUGH, /* its service speaks TLS (local https://) */
  TUNNEL_TLS_TERMINATE,   /* the server terminates TLS (local http://) */
};
struct tunnel {
  struct lease *lease; /* owned by the leases */
  struct plugin *plugin;
  void *plugin_ctx;    /* from server_tunnel_open; NULL when it failed */
  json_t *params;      /* what the transport handed the device */
  enum tunnel_tls tls_mode; /* from its lease's URLs, set once */
  struct tunnel_ports *ports; /* its public listeners and connections */
  /* Its device's session is up, as its transport last reported it (the
   * session-up and session-down events of its audit). */
  bool connected;
  uint64_t bytes_in, bytes_out; /* public side */
  uint64_t conns_open, conns_total;
  uint64_t datagrams_in, datagrams_out, datagrams_dropped; /* udp */
  /* The figures above when the event stream last sent them (a sum that
   * moves whenever one does; server/api_events.c). */
  uint64_t traffic_told;
  /* For /metrics: counted where they happen, labelled only when scraped. */
  uint64_t sessions, sessions_open, reconnects;
  uint64_t http[TUNNEL_HTTP_CLASSES]; /* visitors' answers by class */
  struct prom_histogram http_latency; /* request head to answer head */
  struct device_metrics *dev;  /* its device's series, or the shared one */
  bool own_series;             /* false: summed into tunnel="(other)" */
  /* Its HTTP inspector's requests while it is on, else NULL. */
  struct inspect_ring *inspect;
  struct tunnel *next;
};

struct tunnel_stats {
  uint64_t created, deleted, expired, idle_timeouts, refused;
};

struct tunnel_service {
  uv_loop_t *loop;
  struct leases leases;
  struct tokens *tokens;
  const struct acl_policy *acl;
  struct plugin_registry *plugins;
  char public_host[256];
  char path_base[300];
  struct tunnel *live;
  struct str_index by_id, by_host; /* the live tunnels, by lease */
  unsigned conns_per_ip;   /* public connections per address and tunnel */
  uint64_t response_timeout_ms; /* public HTTP: 504 after this silence */
  uint64_t send_timeout_ms;     /* public HTTP: a visitor reading nothing */
  uint64_t body_timeout_ms;     /* public HTTP: a request body's grace */
  struct http_ingress *http; /* the public HTTP port, or NULL */
  uint16_t http_port;
  struct tls_ingress *tls;   /* the public TLS port, or NULL */
  uint16_t tls_port;         /* 0: none */
  bool https_redirect;       /* plain HTTP for an https name: redirect */
  /* Certificates for the names the server terminates TLS for; NULL: none
   * (such tunnels are refused). */
  struct cert_store *certs;
  /* Set when the server gets certificates itself (ACME): a terminated
   * tunnel without files is then accepted, and this asks for one. */
  void (*cert_want)(void *arg, const char *name);
  void *cert_arg;
  uv_timer_t reaper;
  struct tunnel_stats stats;
  struct tunnel_metrics metrics;
  /* A request was captured by a tunnel's inspector (NULL: nobody to tell). */
  void (*inspected)(void *arg, const struct tunnel *t, uint64_t seq);
  void *inspected_arg;
};

#endif
