/* `weft server`: the daemon. One libuv loop; SIGINT/SIGTERM stop it
 * gracefully (listeners closed, plugins' destroy called, loop closed
 * cleanly); SIGHUP re-reads weft.conf and reports what changed, or why the
 * new file was refused while the old configuration keeps running. */
#ifndef WEFT_CORE_SERVER_H
#define WEFT_CORE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct server_options {
  const char *config_path;  /* NULL: embedded defaults */
  const char *bind_ips;     /* "A,B": replaces the hosts of [server] listen */
  uint16_t port;            /* 0: from [server] listen */
  bool use_secret_per_ip;   /* OR-ed with the config */
  const char *secret_file;  /* overrides the config */
  const char *email;        /* overrides the config */
  const char *state_dir;    /* overrides the config */
  const char *plugin_dir;
  const char *http_listen;  /* overrides the config: HOST:PORT or off */
  const char *tls_listen;   /* the same for the public TLS port */
  bool verbose;
  const char *log_format; /* "text"|"json", or NULL: [server] log_format */
  const char *otel;       /* --opentelemetry-connection-string, or NULL */
};

/* Runs until stopped; returns the process exit code (see cli.h). */
int server_main(const struct server_options *opts);

#endif
