/* What `weft tunnel` tells `weft tunnel status`: one small JSON file per
 * open tunnel under RUN_DIR/tunnels/, rewritten (atomically) whenever its
 * transport reports a change, and removed when the tunnel closes. A file
 * whose process is gone is shown as such, then removed. */
#ifndef WEFT_AGENT_TUNNEL_STATUS_H
#define WEFT_AGENT_TUNNEL_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/host.h>

struct tunnel_status {
  char label[64];        /* [tunnel "NAME"], or the server's tunnel id */
  char id[64];           /* what the transport calls it */
  char transport[32];
  char local[300];
  char public_url[600];
  enum weft_tunnel_phase phase;
  int64_t up_since;      /* wall-clock seconds, 0 while not up */
  int64_t changed;       /* wall-clock seconds of the last report */
  uint32_t restarts;
  char detail[512];      /* the transport's last word */
  char last_error[512];  /* the last detail reported while not up */
  int64_t last_error_at; /* wall-clock seconds of it, 0: none */
};

/* The run directory: $WEFT_RUN_DIR, else /run/weft for root, else
 * $XDG_RUNTIME_DIR/weft, else /tmp/weft-run-UID. */
const char *run_dir_default(void);

/* Applies a transport's report to st (times from the wall clock). */
void tunnel_status_apply(struct tunnel_status *st,
                         const struct weft_tunnel_state *report);
/* Writes RUN_DIR/tunnels/LABEL.json. 0, or -1 (logged once by the caller). */
int tunnel_status_write(const char *run_dir, const struct tunnel_status *st);
void tunnel_status_remove(const char *run_dir, const char *label);

/* A label that is safe as the file's name (LABEL.json). */
bool tunnel_status_label_ok(const char *label);

#endif
