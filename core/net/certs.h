/* Certificates for the host names the server terminates TLS for on its
 * public TLS port: NAME.crt (PEM chain) and NAME.key (PEM key) in the
 * configured directory, or in the ACME directory where the server obtained
 * them itself. Each is loaded when first needed and kept; a reload (SIGHUP,
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
  char acme_dir[512]; /* where ACME certificates go, or "" */
  struct cert_entry *entries;
};

void cert_store_init(struct cert_store *cs, const char *dir,
                     const char *acme_dir);
void cert_store_free(struct cert_store *cs);

/* The context that terminates TLS for `name`, or NULL (no files, or they
 * do not load: why says which and why; the failure is remembered until
 * the next reload or forget, so visitors cannot make the server read the
 * files again and again). Owned by the store. */
SSL_CTX *cert_store_get(struct cert_store *cs, const char *name, char *why,
                        size_t whylen);
/* Where the certificate for `name` comes from. */
enum cert_source { CERT_NONE, CERT_FROM_FILES, CERT_FROM_ACME };
enum cert_source cert_store_source(const struct cert_store *cs,
                                   const char *name);
/* True when files for `name` exist in either directory. */
bool cert_store_has(const struct cert_store *cs, const char *name);
/* When the certificate for `name` ends (wall-clock seconds), or 0 when
 * there is none that loads. */
int64_t cert_store_not_after(struct cert_store *cs, const char *name);
/* Forgets what was loaded (or failed to load) for one name. */
void cert_store_forget(struct cert_store *cs, const char *name);
/* Forgets every loaded context (the files are read again when next used).
 * Returns how many there were. */
size_t cert_store_reload(struct cert_store *cs);

#endif
