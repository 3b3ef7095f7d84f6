/* TLS for the control port and the device's dials: OpenSSL contexts, the
 * server's certificate (from files, or self-signed and kept in the state
 * directory at first start), fingerprints and pins. The per-connection
 * engine lives in stream.c (memory BIOs under a libuv socket). */
#ifndef WEFT_CORE_TLS_CTX_H
#define WEFT_CORE_TLS_CTX_H

#include <openssl/ssl.h>
#include <stddef.h>

#define TLS_FINGERPRINT_HEX 64 /* SHA-256 of the certificate, hex */
/* The ALPN protocol every TLS dial of a weft device offers. */
#define TLS_ALPN_WEFT "weft/1"
/* RFC 9266 tls-exporter channel binding. */
#define TLS_BINDING_LABEL "EXPORTER-Channel-Binding"
#define TLS_BINDING_LEN 32

/* The server's context: cert_file/key_file if given (PEM), else the
 * self-signed pair in state_dir (tls.crt, tls.key 0600), made on first
 * use for `name`. Sets fingerprint (hex, NUL-terminated). NULL with err. */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file,
                        const char *state_dir, const char *name,
                        char fingerprint[TLS_FINGERPRINT_HEX + 1], char *err,
                        size_t errlen);

/* The process's client context (verification is done per connection:
 * by pin, or by the system's CAs and the host name). */
SSL_CTX *tls_client_ctx(void);

/* Hex SHA-256 of a certificate's DER; 0 or -1. */
int tls_cert_fingerprint(X509 *cert, char out[TLS_FINGERPRINT_HEX + 1]);

/* "sha256//BASE64" of the certificate's public key, as libcurl pins it
 * (CURLOPT_PINNEDPUBLICKEY); 0 or -1. */
#define TLS_SPKI_PIN_LEN 60
int tls_spki_pin(X509 *cert, char out[TLS_SPKI_PIN_LEN + 1]);

/* The RFC 9266 exporter value of an established connection; 0 or -1. */
int tls_binding(SSL *ssl, unsigned char out[TLS_BINDING_LEN]);

#endif
