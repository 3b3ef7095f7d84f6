/* The server's public TLS side, set up from [server]: the TLS port
 * (tls_ingress.c), the certificates of the host names the server
 * terminates TLS for (certs.c), and their reload on SIGHUP. */
#ifndef WEFT_CORE_TLS_SETUP_H
#define WEFT_CORE_TLS_SETUP_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <uv.h>

#include "net/certs.h"

struct tunnel_service;
struct http_server;
struct server_conf;

struct acme_manager;

struct tls_setup {
  struct cert_store certs;
  bool certs_ready;
  struct acme_manager *acme; /* with an email address: ACME certificates */
  struct tunnel_service *svc; /* whose TLS port it opened, or NULL */
};

/* Opens the TLS port unless listen (the --tls-listen override, or
 * tls_listen) is "off", and with an email address (--email, or email)
 * gets certificates for terminated names with ACME. server_ctx and
 * control: where devices coming to the server itself go (control NULL:
 * nowhere, they are treated as any visitor). 0, or -1 with err. */
int tls_setup_start(struct tls_setup *pt, struct tunnel_service *svc,
                     uv_loop_t *loop, const struct server_conf *sc,
                     const char *listen, const char *email,
                     const char *state_dir,
                     SSL_CTX *server_ctx, struct http_server *control,
                     char *err, size_t errlen);
/* Server stopping, before the tunnels close: no more ACME orders, and the
 * TLS port closes. */
void tls_setup_stop(struct tls_setup *pt);
/* SIGHUP: certificate files are read again at their next use. */
void tls_setup_reload(struct tls_setup *pt);
/* Frees the certificates. */
void tls_setup_free(struct tls_setup *pt);

#endif
