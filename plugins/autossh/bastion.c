/* The server side: the weft server as the bastion. A system sshd accepts
 * the devices' `ssh -R`; Weft decides who may log in by writing one
 * restricted authorized_keys line per tunnel (akeys.h) for the key the
 * device made for it, with a loopback port of the tunnel's own. The
 * public listener the core opened for the lease relays to that port.
 *
 * Lines expire on their own (expiry-time, at most key_lifetime ahead,
 * pushed forward while the lease lives), vanish on delete, expiry and idle
 * timeout, and on start the file is reconciled with the leases that were
 * restored. Ending a tunnel also ends a live ssh session on its port: sshd
 * checks authorized_keys only at login. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/rand.h>

#include "akeys.h"
#include "autossh.h"
#include "keys.h"
#include "ssh_args.h"

struct bastion_tunnel {
  struct bastion *b;
  struct bastion_tunnel *next;
  struct akey key;
  int64_t lease_expires; /* 0: none */
  struct link *connecting; /* public connections waiting for the port */
};

/* One public connection joined to the device's forward port. */
struct link {
  struct bastion *b;
  struct link *next;            /* in its tunnel's connecting list */
  struct bastion_tunnel *tunnel;/* NULL once connected or orphaned */
  struct weft_stream *public_conn;
  struct weft_pipe *pub, *fwd;  /* both ends once connected */
  int open_pipes;
};

struct bastion {
  struct autossh *as;
  struct bastion_tunnel *tunnels;
  struct akey *restored;        /* our lines found at start */
  size_t restored_count;
  uint16_t port_lo, port_hi;
  char host_key[2100];
  int uid, gid;                 /* the ssh user's, for a new file */
  struct weft_timer *refresh;
  struct weft_timer *reconcile;
  char status[512];
};

static int64_t wall_now(void) { return (int64_t)time(NULL); }

static int64_t line_expiry(const struct bastion *b, int64_t lease_expires)
{
  int64_t e = wall_now() + b->as->conf->key_lifetime_ms / 1000;
  return lease_expires > 0 && lease_expires < e ? lease_expires : e;
}

/* Writes the file as the live tunnels say. */
static int sync_file(struct bastion *b)
{
  const struct weft_host *h = b->as->host;
  size_t n = 0;
  for (struct bastion_tunnel *t = b->tunnels; t; t = t->next)
    n++;
  struct akey *keys = calloc(n ? n : 1, sizeof *keys);
  if (!keys)
    return WEFT_ENOMEM;
  n = 0;
  for (struct bastion_tunnel *t = b->tunnels; t; t = t->next) {
    t->key.expires_at = line_expiry(b, t->lease_expires);
    keys[n++] = t->key;
  }
  char why[512];
  int rc = akeys_write_file(b->as->conf->authorized_keys, keys, n, b->uid,
                            b->gid, why, sizeof why);
  free(keys);
  if (rc != 0) {
    h->log(h, WEFT_LOG_ERROR, "%s", why);
    return WEFT_EIO;
  }
  return 0;
}

/* Pushes the live lines' expiry forward (nothing to do with none). */
static void on_refresh(void *arg)
{
  struct bastion *b = arg;
  if (b->tunnels)
    sync_file(b);
}

/* After the core restored its leases: lines no live tunnel claimed go. */
static void on_reconcile(void *arg)
{
  struct bastion *b = arg;
  const struct weft_host *h = b->as->host;
  h->timer_stop(b->reconcile);
  b->reconcile = NULL;
  size_t dropped = 0;
  for (size_t i = 0; i < b->restored_count; i++) {
    bool live = false;
    for (struct bastion_tunnel *t = b->tunnels; t; t = t->next)
      live |= !strcmp(t->key.tunnel_id, b->restored[i].tunnel_id);
    dropped += !live;
  }
  free(b->restored);
  b->restored = NULL;
  b->restored_count = 0;
  if (sync_file(b) == 0 && dropped)
    h->log(h, WEFT_LOG_INFO, "authorized_keys: removed %zu line%s of tunnels "
                             "that no longer exist",
           dropped, dropped == 1 ? "" : "s");
}

static void collect_restored(void *arg, const struct akey *k)
{
  struct bastion *b = arg;
  struct akey *grown =
      realloc(b->restored, (b->restored_count + 1) * sizeof *grown);
  if (!grown)
    return;
  b->restored = grown;
  b->restored[b->restored_count++] = *k;
}

static int parse_range(const char *text, uint16_t *lo, uint16_t *hi)
{
  char *end;
  long a = strtol(text, &end, 10), z;
  if (*end != '-')
    return -1;
  z = strtol(end + 1, &end, 10);
  if (*end || a < 1024 || z > 65535 || a > z)
    return -1;
  *lo = (uint16_t)a;
  *hi = (uint16_t)z;
  return 0;
}

int bastion_create(struct autossh *as)
{
  const struct autossh_conf *conf = as->conf;
  const struct weft_host *h = as->host;
  if (!conf->authorized_keys)
    return 0; /* not a bastion: tunnels asking for it are told how */
  struct bastion *b = calloc(1, sizeof *b);
  if (!b)
    return WEFT_ENOMEM;
  b->as = as;
  char why[512];
  if (!ssh_path_ok(conf->authorized_keys)) {
    h->log(h, WEFT_LOG_ERROR, "authorized_keys must be an absolute path");
    goto fail;
  }
  if (!conf->ssh_user || !ssh_user_ok(conf->ssh_user)) {
    h->log(h, WEFT_LOG_ERROR, "ssh_user: set the login name devices use on "
                              "this host's sshd (the owner of "
                              "authorized_keys)");
    goto fail;
  }
  if (conf->ssh_host && !ssh_host_ok(conf->ssh_host)) {
    h->log(h, WEFT_LOG_ERROR, "ssh_host '%s' is not a plain host name or "
                              "address",
           conf->ssh_host);
    goto fail;
  }
  if (parse_range(conf->forward_ports, &b->port_lo, &b->port_hi) != 0) {
    h->log(h, WEFT_LOG_ERROR, "forward_ports '%s' is not LOW-HIGH within "
                              "1024-65535",
           conf->forward_ports);
    goto fail;
  }
  FILE *f = fopen(conf->host_key, "r");
  char line[4096] = "";
  bool got = f && fgets(line, sizeof line, f);
  if (f)
    fclose(f);
  line[strcspn(line, "\r\n")] = '\0';
  if (!got || keys_public_line(line, b->host_key, sizeof b->host_key, why,
                               sizeof why) != 0) {
    h->log(h, WEFT_LOG_ERROR, "host_key %s: %s", conf->host_key,
           got ? why : (f ? "empty" : strerror(errno)));
    goto fail;
  }
  struct passwd *pw = getpwnam(conf->ssh_user);
  b->uid = pw ? (int)pw->pw_uid : -1;
  b->gid = pw ? (int)pw->pw_gid : -1;
  if (!pw)
    h->log(h, WEFT_LOG_WARN, "ssh_user %s has no account here; sshd will not "
                             "let devices in",
           conf->ssh_user);
  if (akeys_read_file(conf->authorized_keys, collect_restored, b, why,
                      sizeof why) != 0) {
    h->log(h, WEFT_LOG_ERROR, "%s", why);
    goto fail;
  }
  uint64_t every = (uint64_t)conf->key_lifetime_ms / 4;
  if (h->timer_start(h, every, every, on_refresh, b, &b->refresh) != 0 ||
      h->timer_start(h, 0, 0, on_reconcile, b, &b->reconcile) != 0) {
    if (b->refresh)
      h->timer_stop(b->refresh);
    goto fail;
  }
  snprintf(b->status, sizeof b->status,
           "bastion for %s@%s:%lld, keys in %s, forward ports %s",
           conf->ssh_user, conf->ssh_host ? conf->ssh_host : "(server host)",
           (long long)conf->ssh_port, conf->authorized_keys,
           conf->forward_ports);
  as->bastion = b;
  return 0;
fail:
  free(b->restored);
  free(b);
  return WEFT_ECONFIG;
}

void bastion_destroy(struct autossh *as)
{
  struct bastion *b = as->bastion;
  if (!b)
    return;
  const struct weft_host *h = as->host;
  if (b->refresh)
    h->timer_stop(b->refresh);
  if (b->reconcile)
    h->timer_stop(b->reconcile);
  free(b->restored);
  free(b);
  as->bastion = NULL;
}

const char *bastion_status(struct autossh *as)
{
  return as->bastion ? as->bastion->status : NULL;
}

/* ---- ports ---- */

static bool port_free(struct bastion *b, uint16_t port)
{
  for (struct bastion_tunnel *t = b->tunnels; t; t = t->next)
    if (t->key.forward_port == port)
      return false;
  for (size_t i = 0; i < b->restored_count; i++)
    if (b->restored[i].forward_port == port)
      return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

static uint16_t pick_port(struct bastion *b)
{
  uint32_t span = (uint32_t)b->port_hi - b->port_lo + 1, r = 0;
  RAND_bytes((unsigned char *)&r, sizeof r);
  for (uint32_t i = 0; i < span; i++) {
    uint16_t p = (uint16_t)(b->port_lo + (r + i) % span);
    if (port_free(b, p))
      return p;
  }
  return 0;
}

/* ---- ending a live session ---- */

/* The inode of the socket listening on 127.0.0.1:port, or 0. */
static unsigned long listener_inode(uint16_t port)
{
  FILE *f = fopen("/proc/net/tcp", "r");
  if (!f)
    return 0;
  char line[512];
  unsigned long found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned addr, lport, state;
    unsigned long inode;
    if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X %*s %*s %*s %*d %*d %lu",
               &addr, &lport, &state, &inode) == 4 &&
        state == 0x0A && lport == port && addr == htonl(INADDR_LOOPBACK))
      found = inode;
  }
  fclose(f);
  return found;
}

static bool is_sshd(long pid)
{
  char path[64], comm[32] = "";
  snprintf(path, sizeof path, "/proc/%ld/comm", pid);
  FILE *f = fopen(path, "r");
  bool yes = f && fgets(comm, sizeof comm, f) && !strncmp(comm, "sshd", 4);
  if (f)
    fclose(f);
  return yes;
}

/* The sshd process holding that socket, or 0. */
static long holder_of(unsigned long inode)
{
  char want[64];
  snprintf(want, sizeof want, "socket:[%lu]", inode);
  DIR *proc = opendir("/proc");
  long found = 0;
  struct dirent *e;
  while (proc && !found && (e = readdir(proc))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 1 || !is_sshd(pid))
      continue;
    char fddir[64];
    snprintf(fddir, sizeof fddir, "/proc/%ld/fd", pid);
    DIR *fds = opendir(fddir);
    struct dirent *fe;
    while (fds && !found && (fe = readdir(fds))) {
      char link[400], target[128];
      snprintf(link, sizeof link, "%s/%s", fddir, fe->d_name);
      ssize_t n = readlink(link, target, sizeof target - 1);
      if (n > 0) {
        target[n] = '\0';
        if (!strcmp(target, want))
          found = pid;
      }
    }
    if (fds)
      closedir(fds);
  }
  if (proc)
    closedir(proc);
  return found;
}

static void end_live_session(struct bastion *b, const struct akey *k)
{
  const struct weft_host *h = b->as->host;
  unsigned long inode = listener_inode(k->forward_port);
  long pid = inode ? holder_of(inode) : 0;
  if (!pid)
    return;
  if (kill((pid_t)pid, SIGTERM) == 0)
    h->log(h, WEFT_LOG_INFO, "tunnel %s: ended its ssh session (sshd pid %ld)",
           k->tunnel_id, pid);
  else
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot end its ssh session (sshd pid "
                             "%ld): %s; it lasts until the device drops it",
           k->tunnel_id, pid, strerror(errno));
}

/* ---- tunnels ---- */

int bastion_tunnel_open(struct autossh *as, const struct weft_tunnel_info *t,
                        void **tunnel_ctx)
{
  const struct weft_host *h = as->host;
  struct bastion *b = as->bastion;
  if (!b) {
    h->log(h, WEFT_LOG_ERROR,
           "this server is not an ssh bastion: set [transport.autossh] "
           "authorized_keys, ssh_user and host_key (see docs/transports/"
           "autossh.md), or give the tunnel a bastion = user@host");
    return WEFT_ENOTSUP;
  }
  struct bastion_tunnel *bt = calloc(1, sizeof *bt);
  if (!bt)
    return WEFT_ENOMEM;
  bt->b = b;
  bt->lease_expires = t->expires_at;
  snprintf(bt->key.tunnel_id, sizeof bt->key.tunnel_id, "%s", t->id);
  const char *pub = weft_tunnel_param(t, "ssh_public_key");
  char why[256];
  if (pub) {
    if (keys_public_line(pub, bt->key.key, sizeof bt->key.key, why,
                         sizeof why) != 0) {
      h->log(h, WEFT_LOG_WARN, "tunnel %s: ssh_public_key refused: %s", t->id,
             why);
      free(bt);
      return WEFT_EINVAL;
    }
    bt->key.forward_port = pick_port(b);
  } else {
    /* A lease restored after a restart: its line is still in the file. */
    for (size_t i = 0; i < b->restored_count; i++)
      if (!strcmp(b->restored[i].tunnel_id, t->id))
        bt->key = b->restored[i];
    if (!bt->key.key[0]) {
      h->log(h, WEFT_LOG_WARN, "tunnel %s: no ssh_public_key from the device "
                               "and no line of it in authorized_keys",
             t->id);
      free(bt);
      return WEFT_EINVAL;
    }
  }
  if (!bt->key.forward_port) {
    h->log(h, WEFT_LOG_WARN, "no free port left in forward_ports %s",
           as->conf->forward_ports);
    free(bt);
    return WEFT_ELIMIT;
  }
  bt->next = b->tunnels;
  b->tunnels = bt;
  if (sync_file(b) != 0) {
    b->tunnels = bt->next;
    free(bt);
    return WEFT_EIO;
  }
  char port[8], fwd[8];
  snprintf(port, sizeof port, "%lld", (long long)as->conf->ssh_port);
  snprintf(fwd, sizeof fwd, "%u", bt->key.forward_port);
  t->add_param(t->param_ctx, "ssh_user", as->conf->ssh_user);
  if (as->conf->ssh_host)
    t->add_param(t->param_ctx, "ssh_host", as->conf->ssh_host);
  t->add_param(t->param_ctx, "ssh_port", port);
  t->add_param(t->param_ctx, "ssh_host_key", b->host_key);
  t->add_param(t->param_ctx, "forward_port", fwd);
  h->log(h, WEFT_LOG_INFO, "tunnel %s: key authorised to listen on "
                           "127.0.0.1:%u only",
         t->id, bt->key.forward_port);
  *tunnel_ctx = bt;
  return 0;
}

void bastion_tunnel_close(struct autossh *as, void *tunnel_ctx, int reason)
{
  (void)reason;
  struct bastion *b = as->bastion;
  struct bastion_tunnel *bt = tunnel_ctx;
  struct bastion_tunnel **pp = &b->tunnels;
  while (*pp && *pp != bt)
    pp = &(*pp)->next;
  assert(*pp == bt); /* open listed it; each is closed once */
  *pp = bt->next;
  /* Connections still dialling: the core closes their public side. */
  for (struct link *l = bt->connecting; l; l = l->next) {
    l->tunnel = NULL;
    l->public_conn = NULL;
  }
  sync_file(b);
  end_live_session(b, &bt->key);
  as->host->log(as->host, WEFT_LOG_INFO, "tunnel %s: key revoked",
                bt->key.tunnel_id);
  free(bt);
}

/* ---- relay: public connection <-> 127.0.0.1:forward_port ---- */

static void link_unlist(struct link *l)
{
  if (!l->tunnel)
    return;
  struct link **pp = &l->tunnel->connecting;
  while (*pp && *pp != l)
    pp = &(*pp)->next;
  assert(*pp == l); /* a link with a tunnel is on its connecting list */
  *pp = l->next;
  l->tunnel = NULL;
}

static struct weft_pipe **other(struct link *l, struct weft_pipe **self)
{
  return self == &l->pub ? &l->fwd : &l->pub;
}

struct end {
  struct link *link;
  struct weft_pipe **self;
};

static size_t end_write(void *pctx, const void *data, size_t len)
{
  struct end *e = pctx;
  struct weft_pipe *to = *other(e->link, e->self);
  return to ? e->link->b->as->host->pipe_send(to, data, len) : 0;
}

static void end_shutdown(void *pctx)
{
  struct end *e = pctx;
  struct weft_pipe *to = *other(e->link, e->self);
  if (to)
    e->link->b->as->host->pipe_shutdown(to);
}

static void end_drained(void *pctx)
{
  struct end *e = pctx;
  struct weft_pipe *to = *other(e->link, e->self);
  if (to)
    e->link->b->as->host->pipe_resume(to);
}

static void end_closed(void *pctx, int err)
{
  struct end *e = pctx;
  struct link *l = e->link;
  /* Each pipe ends once; the link lives until both have. */
  assert(*e->self && l->open_pipes > 0);
  *e->self = NULL;
  struct weft_pipe *to = *other(l, e->self);
  if (to)
    l->b->as->host->pipe_close(to, err == WEFT_ECANCELED ? 0 : err);
  free(e);
  if (--l->open_pipes == 0)
    free(l);
}

static const struct weft_pipe_ops end_ops = {
    .write = end_write,
    .shutdown = end_shutdown,
    .drained = end_drained,
    .closed = end_closed,
};

static int attach(struct link *l, struct weft_stream *s,
                  struct weft_pipe **self)
{
  const struct weft_host *h = l->b->as->host;
  struct end *e = calloc(1, sizeof *e);
  if (!e)
    return WEFT_ENOMEM;
  e->link = l;
  e->self = self;
  int rc = h->pipe_attach(h, s, &end_ops, e, self);
  if (rc != 0) {
    free(e);
    return rc;
  }
  l->open_pipes++;
  return 0;
}

static void forward_connected(void *ctx, struct weft_stream *fwd, int status)
{
  struct link *l = ctx;
  const struct weft_host *h = l->b->as->host;
  struct weft_stream *pub = l->public_conn;
  link_unlist(l);
  if (!pub) { /* the tunnel ended meanwhile */
    if (fwd)
      h->stream_close(fwd);
    free(l);
    return;
  }
  if (status != 0) {
    h->log(h, WEFT_LOG_DEBUG, "forward port not answering (%s): is the "
                              "device's ssh connected?",
           weft_strerror(status));
    h->stream_close(pub);
    free(l);
    return;
  }
  /* From here the pipes own both streams; the link lives while either
   * pipe does. */
  l->open_pipes = 1; /* held until both are attached */
  if (attach(l, pub, &l->pub) != 0) {
    h->stream_close(pub);
    h->stream_close(fwd);
  } else if (attach(l, fwd, &l->fwd) != 0) {
    h->stream_close(fwd);
    h->pipe_close(l->pub, WEFT_ENOMEM);
  }
  if (--l->open_pipes == 0)
    free(l);
}

int bastion_stream_open(struct autossh *as, void *tunnel_ctx,
                        struct weft_stream *conn)
{
  const struct weft_host *h = as->host;
  struct bastion_tunnel *bt = tunnel_ctx;
  struct link *l = calloc(1, sizeof *l);
  if (!l)
    return WEFT_ENOMEM;
  l->b = as->bastion;
  l->public_conn = conn;
  l->tunnel = bt;
  l->next = bt->connecting;
  bt->connecting = l;
  int rc = h->stream_connect(h, "127.0.0.1", bt->key.forward_port, false,
                             NULL, forward_connected, l);
  if (rc != 0) {
    link_unlist(l);
    free(l);
  }
  return rc;
}
