/* The console terminal's ssh: the system OpenSSH client, run in a new
 * pseudo-terminal (its controlling terminal, so it can ask for a
 * password), never through a shell. Its options keep it to one
 * interactive login: no keys or agent of the server's, no forwarding, no
 * escape character (whose ~C could open forwardings from the server),
 * each device's host key learned on first use under an alias of its own. */
#ifndef WEFT_CORE_TERMINAL_SSH_H
#define WEFT_CORE_TERMINAL_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define TERMINAL_USER_MAX 32

struct terminal_ssh_target {
  const char *host;        /* an IP address: 127.0.0.1 (a relay), or the
                              device's own (wireguard) */
  uint16_t port;
  const char *user;        /* terminal_ssh_user_ok */
  const char *device_id;   /* names the host key: "weft-DEVICE-PORT" */
  uint16_t device_port;    /* the device's port, for that name */
  const char *known_hosts; /* the file of learned host keys */
  const char *home;        /* ssh's $HOME */
};

/* A login name ssh may be given: names.h's file-safe name, at most
 * TERMINAL_USER_MAX characters. */
bool terminal_ssh_user_ok(const char *user);

/* A path ssh may be given in an option: no quote, backslash or % (ssh
 * would read them), no control characters. */
bool terminal_ssh_path_ok(const char *path);

/* Opens a pseudo-terminal of cols x rows and starts ssh on it. 0, with
 * *master (the caller's to close) and proc started (exit_cb follows); or
 * a libuv error code, with why in err. *spawned says whether proc was
 * given to uv_spawn (then it needs uv_close, whatever the outcome). */
int terminal_ssh_spawn(uv_loop_t *loop, uv_process_t *proc,
                       const struct terminal_ssh_target *t, uint16_t cols,
                       uint16_t rows, uv_exit_cb exit_cb, int *master,
                       bool *spawned, char *err, size_t errlen);

#endif
