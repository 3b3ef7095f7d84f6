/* The server's tunnels: each lease joined to the transport that carries it.
 * Creating one checks the request, the device's ACL and the transport,
 * takes the lease, issues the orchestration token and asks the transport to
 * get ready; deleting or reaping one tells the transport and releases the
 * lease. The control API is a thin HTTP layer over this. */
#ifndef WEFT_CORE_TUNNELS_H
#define WEFT_CORE_TUNNELS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "tunnel/tunnel_types.h"

/* What a client asks for (POST /v1/tunnels). */
struct tunnel_request {
  const char *device_id;
  const char *name;
  const char *transport;
  const char *local;
  const char *remote;     /* NULL: the server chooses */
  const char *allow_ips;  /* NULL: the device's ACL */
  /* What the device's transport asked to pass to its server side (an
   * object of strings, checked by the caller), or NULL. */
  const json_t *device_params;
  /* The device's live tunnel, if it has one, ends first ("replaced"): a
   * device agent restarted after a crash takes its place back. */
  bool replace;
  /* For an https remote the server terminates: the device's own
   * certificate chain and key (PEM), served while the tunnel lives; NULL:
   * the server's (files, or ACME). */
  const char *tls_secret;
};

/* The outcome of a create, mapped to HTTP by the control API. */
struct tunnel_outcome {
  int status;         /* 201, or 400/403/404/409/501/503 */
  char code[32];      /* machine-readable, e.g. "device_busy" */
  char message[512];  /* for the user */
  struct tunnel *tunnel;
  char *token;        /* orchestration token (malloc'd), on success */
};

/* host->datagram_send for the server's plugins (ctx: the service). */
struct weft_udp_peer;
int tunnel_service_send_datagram(void *ctx, const char *plugin_name,
                                 const char *tunnel_id,
                                 const struct weft_udp_peer *peer,
                                 const void *data, size_t len);

/* host->lease_touch for the server's plugins (ctx: the service). */
void tunnel_service_touch(void *ctx, const char *plugin_name,
                          const char *tunnel_id);
/* host->audit for the server's plugins (ctx: the service): only for a
 * tunnel the calling plugin carries. */
void tunnel_service_audit(void *ctx, const char *plugin_name,
                          const char *tunnel_id, const char *event,
                          const char *detail);
/* The ACL policy changed: each live tunnel's public ports work out who
 * may connect again, and its transport hears its device's reach ports
 * (server_tunnel_reach). */
void tunnel_service_acl_changed(struct tunnel_service *svc);

int tunnel_service_open(struct tunnel_service *svc, uv_loop_t *loop,
                        struct store *store, const struct lease_config *cfg,
                        struct tokens *tokens, const struct acl_policy *acl,
                        struct plugin_registry *plugins,
                        const char *public_host, const char *path_base,
                        size_t metrics_cap);
/* Closes every transport session (leases stay in the store for the next
 * start) and the reaper's timer. */
void tunnel_service_close(struct tunnel_service *svc);

void tunnel_service_create(struct tunnel_service *svc,
                           const struct tunnel_request *req,
                           struct tunnel_outcome *out);
/* Only the checks a create makes before it takes anything (request, ACL,
 * transport): true, or false with out filled as a refusal. */
bool tunnel_service_check(struct tunnel_service *svc,
                          const struct tunnel_request *req,
                          struct tunnel_outcome *out);

/* 0, or WEFT_ENOENT. event: "deleted", "idle-timeout", ...; actor: who
 * (a device or administrator id, or "server"). */
int tunnel_service_delete(struct tunnel_service *svc, const char *id,
                          const char *event, const char *actor,
                          const char *detail);
struct tunnel *tunnel_service_find(const struct tunnel_service *svc,
                                   const char *id);
/* The live tunnel that leased host name `name`, or NULL. */
struct tunnel *tunnel_service_by_hostname(const struct tunnel_service *svc,
                                          const char *name);

/* A new orchestration token for a live tunnel (malloc'd), or NULL. */
char *tunnel_service_token(struct tunnel_service *svc, const struct tunnel *t);

/* The JSON a client sees for a tunnel (GET /v1/tunnels/{id}). */
json_t *tunnel_to_json(const struct tunnel_service *svc,
                       const struct tunnel *t);

#endif
