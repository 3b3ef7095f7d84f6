#include "ingress/tls_setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "acme/acme_manager.h"
#include "config/config.h"
#include "ingress/http_ingress.h"
#include "base/log.h"
#include "ingress/tls_ingress.h"
#include "tunnel/tunnels.h"
#include "base/url.h"

int tls_setup_start(struct tls_setup *pt, struct tunnel_service *svc,
                     uv_loop_t *loop, const struct server_conf *sc,
                     const char *listen, const char *email,
                     const char *state_dir,
                     SSL_CTX *server_ctx, struct http_server *control,
                     char *err, size_t errlen)
{
  if (!strcmp(listen, "off"))
    return 0;
  enum url_host_kind kind;
  char host[URL_MAX_HOST + 1];
  uint16_t port;
  if (hostport_parse(listen, &kind, host, sizeof host, &port, err, errlen))
    return -1;
  if (kind == URL_HOST_ANY)
    snprintf(host, sizeof host, "0.0.0.0");
  char dir[512], acme_dir[512], device_dir[512];
  snprintf(dir, sizeof dir, "%s", sc->tls_certs_dir ? sc->tls_certs_dir : "");
  snprintf(acme_dir, sizeof acme_dir, "%s/acme", state_dir);
  snprintf(device_dir, sizeof device_dir, "%s/device-certs", state_dir);
  if (mkdir(device_dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot make %s: %s", device_dir, strerror(errno));
    return -1;
  }
  if (!sc->tls_certs_dir) {
    snprintf(dir, sizeof dir, "%s/certs", state_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "cannot make %s: %s", dir, strerror(errno));
      return -1;
    }
  }
  cert_store_init(&pt->certs, dir, device_dir, acme_dir);
  pt->certs_ready = true;
  svc->certs = &pt->certs;
  svc->https_redirect = sc->https_redirect;
  if (!svc->http) { /* terminated names still need the HTTP routing */
    int rc = http_ingress_open(svc, loop, NULL, 0, &svc->http);
    if (rc != 0) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  struct tls_ingress_conf conf = {
      .hello_timeout_ms = (uint64_t)sc->client_hello_timeout_ms,
      .default_host = sc->tls_default_host,
      .server_ctx = server_ctx,
      .control = control,
  };
  int rc = tls_ingress_open(svc, loop, host, port, &conf, &svc->tls);
  pt->svc = svc;
  if (rc != 0) {
    snprintf(err, errlen, "cannot listen on %s:%u (tls_listen): %s", host,
             port, uv_strerror(rc));
    return -1;
  }
  svc->tls_port = port;
  if (email) {
    struct acme_settings set = {.directory_url = sc->acme_directory,
                                .ca_file = sc->acme_ca_file,
                                .email = email};
    pt->acme = acme_manager_start(loop, svc, &pt->certs, &set, err, errlen);
    if (!pt->acme)
      return -1;
    if (!svc->http_port)
      log_warn("ACME: http_listen is off, so no HTTP-01 challenge can be "
               "answered");
  }
  log_info("public TLS listening on %s:%u (certificates for terminated "
           "names in %s; devices reach the control API there: %s)",
           host, port, dir, control ? "yes" : "no, see tls_control");
  return 0;
}

void tls_setup_stop(struct tls_setup *pt)
{
  acme_manager_stop(pt->acme);
  pt->acme = NULL;
  if (pt->svc) {
    tls_ingress_close(pt->svc->tls);
    pt->svc->tls = NULL;
  }
}

void tls_setup_reload(struct tls_setup *pt)
{
  if (!pt->certs_ready)
    return;
  size_t n = cert_store_reload(&pt->certs);
  if (n)
    log_info("SIGHUP: %zu certificate(s) will be read again at their next "
             "use",
             n);
}

void tls_setup_free(struct tls_setup *pt)
{
  if (pt->certs_ready)
    cert_store_free(&pt->certs);
  pt->certs_ready = false;
}
