#include "net/tls_ctx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

static void openssl_error(char *err, size_t errlen, const char *what)
{
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_error_string_n(e, buf, sizeof buf);
  snprintf(err, errlen, "%s: %s", what, e ? buf : "unknown error");
  ERR_clear_error();
}

int tls_cert_fingerprint(X509 *cert, char out[TLS_FINGERPRINT_HEX + 1])
{
  unsigned char md[32];
  unsigned int n = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
    return -1;
  for (unsigned i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

int tls_spki_pin(X509 *cert, char out[TLS_SPKI_PIN_LEN + 1])
{
  unsigned char *der = NULL;
  int len = cert ? i2d_PUBKEY(X509_get0_pubkey(cert), &der) : -1;
  if (len <= 0)
    return -1;
  unsigned char md[32];
  int ok = EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL);
  OPENSSL_free(der);
  if (!ok)
    return -1;
  memcpy(out, "sha256//", 8);
  EVP_EncodeBlock((unsigned char *)out + 8, md, sizeof md); /* 44 + NUL */
  return 0;
}

int tls_binding(SSL *ssl, unsigned char out[TLS_BINDING_LEN])
{
  return SSL_export_keying_material(ssl, out, TLS_BINDING_LEN,
                                    TLS_BINDING_LABEL,
                                    strlen(TLS_BINDING_LABEL), NULL, 0,
                                    0) == 1
             ? 0
             : -1;
}

/* A self-signed P-256 certificate for `name`, ten years. */
static int make_self_signed(const char *name, EVP_PKEY **key_out,
                            X509 **cert_out)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = X509_new();
  if (!key || !cert)
    goto fail;
  X509_set_version(cert, 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1)
    goto fail;
  serial[0] &= 0x7f;
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME *subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             (const unsigned char *)name, -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  char san[300];
  unsigned char addr[16];
  bool ip = inet_pton(AF_INET, name, addr) == 1 ||
            inet_pton(AF_INET6, name, addr) == 1;
  snprintf(san, sizeof san, "%s:%s", ip ? "IP" : "DNS", name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ext =
      X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
  if (ext) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert, key, EVP_sha256()) <= 0)
    goto fail;
  *key_out = key;
  *cert_out = cert;
  return 0;
fail:
  EVP_PKEY_free(key);
  X509_free(cert);
  return -1;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return -1;
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    return -1;
  }
  int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
               : PEM_write_X509(f, cert);
  ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
  fclose(f);
  return ok ? 0 : -1;
}

/* What both sides use: TLS 1.2 at least, no renegotiation, AES-128-GCM
 * first (as fast as the CPU allows, and ample), and buffers given back
 * while a connection is idle (a device's session mostly is). TLS 1.2
 * offers only AEAD suites with forward secrecy (no CBC, no RSA key
 * exchange), as TLS 1.3 does by design. */
static void tls_tune(SSL_CTX *ctx)
{
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
                                "TLS_AES_256_GCM_SHA384:"
                                "TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file,
                        const char *state_dir, const char *name,
                        char fingerprint[TLS_FINGERPRINT_HEX + 1], char *err,
                        size_t errlen)
{
  char crt[1024], key[1024];
  if (cert_file && key_file) {
    snprintf(crt, sizeof crt, "%s", cert_file);
    snprintf(key, sizeof key, "%s", key_file);
  } else {
    snprintf(crt, sizeof crt, "%s/tls.crt", state_dir);
    snprintf(key, sizeof key, "%s/tls.key", state_dir);
    if (access(crt, F_OK) != 0 || access(key, F_OK) != 0) {
      EVP_PKEY *k;
      X509 *c;
      if (make_self_signed(name, &k, &c) != 0) {
        openssl_error(err, errlen, "cannot make a certificate");
        return NULL;
      }
      int rc = write_pem(key, 0600, k, NULL) | write_pem(crt, 0644, NULL, c);
      EVP_PKEY_free(k);
      X509_free(c);
      if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: %s", crt, strerror(errno));
        return NULL;
      }
      log_info("made a self-signed TLS certificate for %s in %s", name,
               state_dir);
    }
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    openssl_error(err, errlen, "cannot make a TLS context");
    return NULL;
  }
  tls_tune(ctx);
  if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1) {
    openssl_error(err, errlen, crt);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    openssl_error(err, errlen, key);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (tls_cert_fingerprint(SSL_CTX_get0_certificate(ctx), fingerprint) != 0) {
    snprintf(err, errlen, "cannot fingerprint %s", crt);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

SSL_CTX *tls_client_ctx(void)
{
  static SSL_CTX *ctx;
  if (!ctx) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx) {
      tls_tune(ctx);
      SSL_CTX_set_default_verify_paths(ctx);
      /* On a server's public TLS port this says "the server itself, not
       * one of its host names" (core/ingress/tls_ingress.c). */
      static const unsigned char alpn[] = "\x06" TLS_ALPN_WEFT;
      SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    }
  }
  return ctx;
}
