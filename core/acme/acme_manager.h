/* The server's ACME certificates (with `email` set): for every name the
 * server terminates TLS for and has no certificate file for, an order is
 * placed on a libuv worker thread (acme_issue), one at a time; the key and
 * chain land in the certificate store's ACME directory (STATE_DIR/acme),
 * next to the account key.
 * A failed order is tried again after a growing pause; a certificate is
 * renewed when it has less than a third of its life left (30 days of a
 * 90-day one), checked twice a day. HTTP-01 answers come from the public
 * HTTP port (acme_challenges.c), so that port must be reachable as port 80
 * of each name. */
#ifndef WEFT_CORE_ACME_MANAGER_H
#define WEFT_CORE_ACME_MANAGER_H

#include <stdbool.h>
#include <uv.h>

struct tunnel_service;
struct cert_store;
struct acme_manager;

struct acme_settings {
  const char *directory_url;
  const char *ca_file;      /* trust for the CA's own TLS, or NULL */
  const char *email;
};

/* NULL with err on failure. Hooks itself into svc (cert_want)
 * and asks for what live tunnels lack. */
struct acme_manager *acme_manager_start(uv_loop_t *loop,
                                        struct tunnel_service *svc,
                                        struct cert_store *certs,
                                        const struct acme_settings *set,
                                        char *err, size_t errlen);
/* Stops its timers and queued orders; an order under way finishes (it is
 * bounded) before the loop can end, and is then forgotten. */
void acme_manager_stop(struct acme_manager *m);

#endif
