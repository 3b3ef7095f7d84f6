#include "net/certs.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "net/cert_pair.h"
#include "net/tls_ctx.h"

struct cert_entry {
  char *name;
  SSL_CTX *ctx;     /* NULL: it did not load, for the reason in why */
  char why[1100];
  struct cert_entry *next;
};

void cert_store_init(struct cert_store *cs, const char *dir,
                     const char *device_dir, const char *acme_dir)
{
  memset(cs, 0, sizeof *cs);
  snprintf(cs->dir, sizeof cs->dir, "%s", dir ? dir : "");
  snprintf(cs->device_dir, sizeof cs->device_dir, "%s",
           device_dir ? device_dir : "");
  snprintf(cs->acme_dir, sizeof cs->acme_dir, "%s", acme_dir ? acme_dir : "");
}

size_t cert_store_reload(struct cert_store *cs)
{
  size_t n = 0;
  while (cs->entries) {
    struct cert_entry *e = cs->entries;
    cs->entries = e->next;
    SSL_CTX_free(e->ctx);
    free(e->name);
    free(e);
    n++;
  }
  return n;
}

void cert_store_free(struct cert_store *cs) { cert_store_reload(cs); }

void cert_store_forget(struct cert_store *cs, const char *name)
{
  for (struct cert_entry **pp = &cs->entries; *pp; pp = &(*pp)->next)
    if (!strcmp((*pp)->name, name)) {
      struct cert_entry *e = *pp;
      *pp = e->next;
      SSL_CTX_free(e->ctx);
      free(e->name);
      free(e);
      return;
    }
}

/* Host names come from leases (checked DNS names); still, never let one
 * walk out of the directory. */
static bool safe_name(const char *name)
{
  return name[0] && name[0] != '.' && !strchr(name, '/');
}

/* Where the files for name are: the admin's directory first, then the
 * device's, then ACME's. CERT_NONE when none has both. */
static enum cert_source files_for(const struct cert_store *cs,
                                  const char *name, char crt[1024],
                                  char key[1024])
{
  const char *dirs[] = {cs->dir, cs->device_dir, cs->acme_dir};
  const enum cert_source sources[] = {CERT_FROM_FILES, CERT_FROM_DEVICE,
                                      CERT_FROM_ACME};
  if (!safe_name(name))
    return CERT_NONE;
  for (size_t i = 0; i < 3; i++) {
    if (!dirs[i][0])
      continue;
    snprintf(crt, 1024, "%s/%s.crt", dirs[i], name);
    snprintf(key, 1024, "%s/%s.key", dirs[i], name);
    if (access(crt, R_OK) == 0 && access(key, R_OK) == 0)
      return sources[i];
  }
  return CERT_NONE;
}

enum cert_source cert_store_source(const struct cert_store *cs,
                                   const char *name)
{
  char crt[1024], key[1024];
  return files_for(cs, name, crt, key);
}

bool cert_store_has(const struct cert_store *cs, const char *name)
{
  return cert_store_source(cs, name) != CERT_NONE;
}

/* Terminated connections speak HTTP/1.1 (the ingress rewrites request
 * heads): say so to clients that offer ALPN, and nothing else. */
static int select_http1(SSL *ssl, const unsigned char **out,
                        unsigned char *outlen, const unsigned char *in,
                        unsigned int inlen, void *arg)
{
  (void)ssl, (void)arg;
  static const unsigned char http1[] = "\x08http/1.1";
  unsigned char *sel = NULL;
  if (SSL_select_next_proto(&sel, outlen, http1, sizeof http1 - 1, in,
                             inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* Loads name's pair: a context, or NULL with why. */
static SSL_CTX *load(const struct cert_store *cs, const char *name, char *why,
                     size_t whylen)
{
  char crt[1024], key[1024], fp[TLS_FINGERPRINT_HEX + 1];
  if (!files_for(cs, name, crt, key)) {
    snprintf(why, whylen, "no certificate for %s (%s/%s.crt)", name,
             cs->dir[0] ? cs->dir : cs->acme_dir, name);
    return NULL;
  }
  SSL_CTX *ctx = tls_server_ctx(crt, key, NULL, name, fp, why, whylen);
  if (ctx)
    SSL_CTX_set_alpn_select_cb(ctx, select_http1, NULL);
  return ctx;
}

SSL_CTX *cert_store_get(struct cert_store *cs, const char *name, char *why,
                        size_t whylen)
{
  for (struct cert_entry *e = cs->entries; e; e = e->next)
    if (!strcmp(e->name, name)) {
      if (!e->ctx)
        snprintf(why, whylen, "%s", e->why);
      return e->ctx;
    }
  struct cert_entry *e = calloc(1, sizeof *e);
  if (!e || !(e->name = strdup(name))) {
    free(e);
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  e->ctx = load(cs, name, e->why, sizeof e->why);
  if (!e->ctx) {
    snprintf(why, whylen, "%s", e->why);
    log_warn("TLS port: cannot terminate TLS for %s: %s (said once, until "
             "the next SIGHUP)",
             name, e->why);
  }
  e->next = cs->entries;
  cs->entries = e;
  return e->ctx;
}

int64_t cert_store_not_after(struct cert_store *cs, const char *name)
{
  char why[256];
  SSL_CTX *ctx = cert_store_get(cs, name, why, sizeof why);
  X509 *cert = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
  if (!cert)
    return 0;
  struct tm tm;
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
    return 0;
  return (int64_t)timegm(&tm);
}

int cert_store_put_device(struct cert_store *cs, const char *name,
                          const struct cert_pair *cp, char *why,
                          size_t whylen)
{
  if (!cs->device_dir[0] || !safe_name(name)) {
    snprintf(why, whylen, "this server keeps no certificates of devices");
    return -1;
  }
  char crt[1024], key[1024];
  snprintf(crt, sizeof crt, "%s/%s.crt", cs->device_dir, name);
  snprintf(key, sizeof key, "%s/%s.key", cs->device_dir, name);
  int rc = cert_pair_write(cp, crt, key, why, whylen);
  cert_store_forget(cs, name);
  return rc;
}

void cert_store_drop_device(struct cert_store *cs, const char *name)
{
  if (!cs->device_dir[0] || !safe_name(name))
    return;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.key", cs->device_dir, name);
  bool had = unlink(path) == 0;
  snprintf(path, sizeof path, "%s/%s.crt", cs->device_dir, name);
  had |= unlink(path) == 0;
  if (had) {
    cert_store_forget(cs, name);
    log_info("removed the certificate device-certs/%s.crt its device had "
             "handed over (its tunnel ended)",
             name);
  }
}
