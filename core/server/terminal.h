/* The web console's terminals: an operator's browser speaks to a device's
 * sshd through ssh run by the server in a pseudo-terminal
 * (terminal_ssh.h), over a WebSocket (the websocket transport's RFC 6455
 * layer, ws_conn.h). ssh reaches the device at its own address
 * (wireguard) or through a relay: a loopback listener that takes one
 * connection, from that ssh only, and hands it to the device's tunnel as
 * tunnel_ports_relay.
 *
 * Messages are binary, their first byte saying what they carry:
 *   browser -> server  0x02 start: cols, rows (16 bits each, big-endian),
 *                           then the console's CSRF token; first, once
 *                      0x00 keystrokes (bytes for the terminal)
 *                      0x01 window size: cols, rows
 *   server -> browser  0x00 the terminal's output
 *                      0x03 the end: why, a sentence (UTF-8); the server
 *                           then closes the WebSocket
 * Each terminal is audited when ssh starts (terminal-opened) and when it
 * ends (terminal-closed, with how long and why). */
#ifndef WEFT_CORE_TERMINAL_H
#define WEFT_CORE_TERMINAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "plugin/host.h"
#include "server/terminal_msg.h"
#include "server/terminal_ssh.h"

#define TERMINALS_MAX 32        /* at once, on the server */
#define TERMINALS_PER_USER 4
#define TERMINAL_START_MS 10000 /* for the start message */

struct tunnel_service;
struct weft_stream;
struct ws_upgrade;
struct terminal;

/* What a terminal needs from the control API. */
struct terminal_hooks {
  void (*audit)(void *arg, const char *event, const char *device_id,
                const char *tunnel_id, const char *actor,
                const char *detail);
  /* Whether console session `session` is still signed in; with csrf, also
   * whether that is its token. Asking with input counts as the session's
   * activity. */
  bool (*session_ok)(void *arg, const char *session, const char *csrf,
                     bool activity);
  void *arg;
};

struct terminals {
  uv_loop_t *loop;
  struct host_binding host; /* what ws_conn uses, logging as "terminal" */
  struct tunnel_service *tunnels;
  struct terminal_hooks hooks;
  struct terminal *live;
  unsigned count;
  char home[4096];          /* STATE/terminal: ssh's $HOME */
  char known_hosts[4200];   /* ... /known_hosts: devices' host keys */
  bool usable;              /* that directory is fit for ssh */
};

/* What the control API checked: who opens which terminal. */
struct terminal_request {
  char actor[80];           /* "user:NAME" */
  char user[64];            /* who, for the per-user cap */
  char session[64];         /* their console session, or "" (an API key) */
  char peer_ip[46];
  char device_id[64];
  char tunnel_id[64];       /* carries it, and whose idle timeout applies */
  char address[46];         /* the device's own (wireguard), or "": a relay */
  uint16_t port;            /* the device's port (its ACL allowed it) */
  char ssh_user[TERMINAL_USER_MAX + 1];
  int64_t idle_s;           /* ends after this long without traffic */
};

/* Prepares state_dir/terminal; false with why when ssh cannot use it (the
 * terminals are then refused, the server runs). */
bool terminals_init(struct terminals *ts, uv_loop_t *loop,
                    struct tunnel_service *tunnels, const char *state_dir,
                    char *why, size_t len);
/* Ends every terminal (the server stops): ssh killed, connections closed.
 * The loop then runs their last callbacks. */
void terminals_close(struct terminals *ts);
/* How many terminals user has open. */
unsigned terminals_of(const struct terminals *ts, const char *user);

/* Answers the upgrade and runs the terminal (conn is its from now on). */
void terminal_start(struct terminals *ts, const struct terminal_request *rq,
                    const struct ws_upgrade *up, struct weft_stream *conn);

#endif
