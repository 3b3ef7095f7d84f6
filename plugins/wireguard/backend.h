/* One WireGuard interface, driven by whichever way this machine has:
 * kernel WireGuard through generic netlink, or a wireguard-go process that
 * Weft starts, supervises and configures through its UAPI socket. The
 * rest of the plugin sees one set of calls either way. */
#ifndef WEFT_WG_BACKEND_H
#define WEFT_WG_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include <weft/weft.h>

#include "wg_types.h"

struct wg_proc;

struct wg_backend {
  const struct weft_host *host;
  char ifname[16];
  bool kernel;                 /* false: wireguard-go */
  char program[256];           /* wireguard-go, for restarts */
  char program_log[16];        /* its LOG_LEVEL: "error" or "verbose" */
  char socket_path[100];         /* fits sockaddr_un.sun_path */
  struct wg_proc *proc;        /* the wireguard-go child, or NULL */
  bool closing;
  /* Called when wireguard-go died and was started again, with a fresh,
   * empty interface: configure it all again. */
  void (*restarted)(void *arg);
  void *arg;
  struct weft_timer *restart;
};

/* Creates the interface (removing a stale one of that name first). mode:
 * "auto" (kernel if it has WireGuard, else wireguard-go), "kernel" or
 * "uapi". program_log: wireguard-go's LOG_LEVEL, whose lines are logged
 * as this plugin's records. 0, or -1 with why. */
int wg_backend_open(struct wg_backend *b, const struct weft_host *host,
                    const char *mode, const char *ifname,
                    const char *program, const char *program_log, char *why,
                    size_t whylen);

/* Which backend `mode` would use here, without touching anything: one line
 * for `weft plugins` ("auto: userspace (wireguard-go at /usr/bin/...)..."). */
void wg_backend_probe(const char *mode, const char *program, char *buf,
                      size_t len);

/* "kernel (generic netlink)" or "userspace (wireguard-go, UAPI)". */
const char *wg_backend_name(const struct wg_backend *b);

int wg_backend_set(struct wg_backend *b, const struct wg_device_set *dev,
                   const struct wg_peer_set *peers, size_t count, char *why,
                   size_t whylen);
int wg_backend_get(struct wg_backend *b, struct wg_device_state *out,
                   char *why, size_t whylen);

/* Deletes the interface and stops wireguard-go. The loop must run for the
 * process handle to close. */
void wg_backend_close(struct wg_backend *b);

#endif
