/* Certificates for the host names the server terminates TLS for on its
 * public TLS port: NAME.crt (PEM chain) and NAME.key (PEM key) in the
 * configured directory, in the device directory where a device handed
 * over its own (weft tunnel --tls-secret), or in the ACME directory where
 * the server obtained them itself, in that order. Each is loaded when first needed and kept; a reload (SIGHUP,
 * or a renewed ACME certificate) drops what was loaded so that the next
 * connection reads the files again. Connections already running keep the
 * context they began with (OpenSSL counts its references). */
#ifndef WEFT_CORE_CERTS_H
#define WEFT_CORE_CERTS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cert_entry;

struct cert_store {
  char dir[512];      /* tls_certs_dir: the admin's files, or "" */
  char device_dir[512]; /* what devices handed over, or "" */
  char acme_dir[512]; /* where ACME certificates go, or "" */
  struct cert_entry *entries;
};

void cert_store_init(struct cert_store *cs, const char *dir,
                     const char *device_dir, const char *acme_dir);
void cert_store_free(struct cert_store *cs);

/* The context that terminates TLS for `name`, or NULL (no files, or they
 * do not load: why says which and why; the failure is remembered until
 * the next reload or forget, so visitors cannot make the server read the
 * files again and again). Owned by the store. */
SSL_CTX *cert_store_get(struct cert_store *cs, const char *name, char *why,
                        size_t whylen);
/* Where the certificate for `name` comes from. */
enum cert_source {
  CERT_NONE,
  CERT_FROM_FILES,  /* the administrator's */
  CERT_FROM_DEVICE, /* the tunnel's device's */
  CERT_FROM_ACME,
};
enum cert_source cert_store_source(const struct cert_store *cs,
                                   const char *name);
/* True when files for `name` exist in any of the directories. */
bool cert_store_has(const struct cert_store *cs, const char *name);
/* When the certificate for `name` ends (wall-clock seconds), or 0 when
 * there is none that loads. */
int64_t cert_store_not_after(struct cert_store *cs, const char *name);
/* A device's own pair for name (weft tunnel --tls-secret), written into
 * the device directory and served from the next connection. 0, or -1
 * with why. */
struct cert_pair;
int cert_store_put_device(struct cert_store *cs, const char *name,
                          const struct cert_pair *cp, char *why,
                          size_t whylen);
/* Removes a device's pair for name, if there is one (its tunnel ended). */
void cert_store_drop_device(struct cert_store *cs, const char *name);
/* Forgets what was loaded (or failed to load) for one name. */
void cert_store_forget(struct cert_store *cs, const char *name);
/* Forgets every loaded context (the files are read again when next used).
 * Returns how many there were. */
size_t cert_store_reload(struct cert_store *cs);

#endif
