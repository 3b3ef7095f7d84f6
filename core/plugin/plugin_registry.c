#include "plugin/plugin_registry.h"

#include <assert.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "plugin/options.h"
#include "auth/secret.h"

#ifndef WEFT_BUILD_ROOT
#error "WEFT_BUILD_ROOT must be defined by the build"
#endif
#ifndef WEFT_INSTALLED_PLUGIN_DIR
#error "WEFT_INSTALLED_PLUGIN_DIR must be defined by the build"
#endif

void plugin_registry_init_empty(struct plugin_registry *reg)
{
  memset(reg, 0, sizeof *reg);
}

static void refuse(struct plugin_registry *reg, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void refuse(struct plugin_registry *reg, const char *path,
                   const char *fmt, ...)
{
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  log_warn("refused plugin %s: %s", path, reason);
  if (reg->refused_count == reg->refused_cap) {
    size_t cap = reg->refused_cap ? reg->refused_cap * 2 : 8;
    struct refused_plugin *r = realloc(reg->refused, cap * sizeof *r);
    if (!r)
      return;
    reg->refused = r;
    reg->refused_cap = cap;
  }
  struct refused_plugin *r = &reg->refused[reg->refused_count];
  r->path = strdup(path);
  r->reason = strdup(reason);
  if (!r->path || !r->reason) {
    free(r->path);
    free(r->reason);
    return;
  }
  reg->refused_count++;
}

static bool valid_plugin_name(const char *name)
{
  size_t n = 0;
  for (const char *p = name; *p; p++, n++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
          *p == '-'))
      return false;
  return n >= 1 && n <= 31;
}

void plugin_caps_text(unsigned caps, char *buf, size_t len)
{
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{WEFT_CAP_SERVER, "server"}, {WEFT_CAP_CLIENT, "client"},
               {WEFT_CAP_TCP, "tcp"},       {WEFT_CAP_UDP, "udp"},
               {WEFT_CAP_HTTP, "http"},     {WEFT_CAP_SNI, "sni"},
               {WEFT_CAP_ADDRESS, "address"}};
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(caps & names[i].bit))
      continue;
    int n = snprintf(buf + used, len - used, "%s%s", used ? " " : "",
                     names[i].name);
    if (n < 0 || (size_t)n >= len - used)
      break;
    used += (size_t)n;
  }
}

/* The ops each capability needs; NULL if the descriptor is complete. */
static const char *missing_op(const struct weft_plugin *d)
{
  if (!d->create)
    return "create";
  if (!d->destroy)
    return "destroy";
  if (d->caps & WEFT_CAP_SERVER) {
    if (!d->server_tunnel_open)
      return "server_tunnel_open (needed by capability 'server')";
    if (!d->server_tunnel_close)
      return "server_tunnel_close (needed by capability 'server')";
    if ((d->caps & (WEFT_CAP_TCP | WEFT_CAP_HTTP | WEFT_CAP_SNI)) &&
        !d->server_stream_open)
      return "server_stream_open (needed by 'server' with tcp, http or sni)";
    if ((d->caps & WEFT_CAP_UDP) && !d->server_datagram)
      return "server_datagram (needed by 'server' with udp)";
  }
  if ((d->upgrade_path != NULL) != (d->server_upgrade != NULL))
    return "upgrade_path and server_upgrade (one needs the other)";
  if (d->caps & WEFT_CAP_CLIENT) {
    if (!d->client_tunnel_open)
      return "client_tunnel_open (needed by capability 'client')";
    if (!d->client_tunnel_close)
      return "client_tunnel_close (needed by capability 'client')";
  }
  return NULL;
}

static struct plugin *find(const struct plugin_registry *reg, const char *name)
{
  for (size_t i = 0; i < reg->count; i++)
    if (strcmp(reg->plugins[i]->desc.name, name) == 0)
      return reg->plugins[i];
  return NULL;
}

struct plugin *plugin_registry_find(const struct plugin_registry *reg,
                                    const char *name)
{
  return find(reg, name);
}

void plugin_registry_names(const struct plugin_registry *reg, char *buf,
                           size_t len)
{
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < reg->count; i++) {
    int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                     reg->plugins[i]->desc.name);
    if (n < 0 || (size_t)n >= len - used)
      break;
    used += (size_t)n;
  }
  if (reg->count == 0)
    snprintf(buf, len, "(none loaded)");
}

/* Every check the descriptor must pass; fills a zero-extended copy. Returns
 * 0, or -1 after recording the refusal. */
static int check_descriptor(struct plugin_registry *reg, const char *origin,
                            const struct weft_plugin *raw,
                            struct weft_plugin *out)
{
  if (!raw) {
    refuse(reg, origin, "its entry function returned no descriptor");
    return -1;
  }
  if (raw->abi_major != WEFT_ABI_MAJOR) {
    refuse(reg, origin,
           "built for plugin ABI %u.%u; this weft loads ABI %u.x (rebuild it "
           "against the weft-sdk of this version)",
           raw->abi_major, raw->abi_minor, WEFT_ABI_MAJOR);
    return -1;
  }
  if (raw->struct_size < WEFT_PLUGIN_MIN_SIZE_1) {
    refuse(reg, origin,
           "descriptor is %u bytes, smaller than the %zu bytes ABI %u.0 "
           "requires",
           raw->struct_size, (size_t)WEFT_PLUGIN_MIN_SIZE_1, WEFT_ABI_MAJOR);
    return -1;
  }
  /* Newer minors append fields we do not know: copy only what we know. */
  memset(out, 0, sizeof *out);
  memcpy(out, raw,
         raw->struct_size < sizeof *out ? raw->struct_size : sizeof *out);

  if (!out->name || !valid_plugin_name(out->name)) {
    refuse(reg, origin,
           "its name is missing or not [a-z0-9_-]{1,31}");
    return -1;
  }
  if (!out->description || !*out->description) {
    refuse(reg, origin, "plugin '%s' has no description", out->name);
    return -1;
  }
  struct plugin *dup = find(reg, out->name);
  if (dup) {
    refuse(reg, origin,
           "duplicate plugin name '%s' (already loaded from %s)", out->name,
           dup->path ? dup->path : "the weft binary");
    return -1;
  }
  if (!(out->caps & (WEFT_CAP_SERVER | WEFT_CAP_CLIENT))) {
    refuse(reg, origin,
           "plugin '%s' declares neither the server nor the client side",
           out->name);
    return -1;
  }
  const char *missing = missing_op(out);
  if (missing) {
    char caps[128];
    plugin_caps_text(out->caps, caps, sizeof caps);
    refuse(reg, origin,
           "plugin '%s' declares capabilities [%s] but lacks the op %s",
           out->name, caps, missing);
    return -1;
  }
  if (out->upgrade_path) {
    static const char *const core_paths[] = {"/v1/login", "/v1/tunnels",
                                             "/v1/audit", "/v1/approvals",
                                             "/healthz", "/metrics", NULL};
    bool bad = out->upgrade_path[0] != '/' || strlen(out->upgrade_path) > 64;
    for (const char *c = out->upgrade_path; *c && !bad; c++)
      bad = *c <= ' ' || *c >= 0x7f || *c == '?' || *c == '#';
    for (size_t i = 0; core_paths[i] && !bad; i++)
      bad = !strncmp(out->upgrade_path, core_paths[i], strlen(core_paths[i]));
    if (bad) {
      refuse(reg, origin,
             "plugin '%s': upgrade_path '%.64s' must be a path of its own "
             "(not one of the core's)",
             out->name, out->upgrade_path);
      return -1;
    }
    for (size_t i = 0; i < reg->count; i++) {
      const char *other = reg->plugins[i]->desc.upgrade_path;
      if (other && !strcmp(other, out->upgrade_path)) {
        refuse(reg, origin, "plugin '%s': upgrade_path %s is already %s's",
               out->name, other, reg->plugins[i]->desc.name);
        return -1;
      }
    }
  }
  char why[256];
  if (options_check_table(out->options, out->config_size, why,
                          sizeof why) != 0) {
    refuse(reg, origin, "plugin '%s': [transport.%s] options: %s", out->name,
           out->name, why);
    return -1;
  }
  if (options_check_table(out->tunnel_options, out->tunnel_config_size, why,
                          sizeof why) != 0) {
    refuse(reg, origin, "plugin '%s': tunnel options: %s", out->name, why);
    return -1;
  }
  if (!out->version)
    out->version = "unversioned";
  return 0;
}

static int add(struct plugin_registry *reg, const char *path, void *dl,
               const struct weft_plugin *desc)
{
  if (reg->count == reg->cap) {
    size_t cap = reg->cap ? reg->cap * 2 : 8;
    struct plugin **p = realloc(reg->plugins, cap * sizeof *p);
    if (!p)
      return -1;
    reg->plugins = p;
    reg->cap = cap;
  }
  struct plugin *p = calloc(1, sizeof *p);
  if (!p)
    return -1;
  p->path = path ? strdup(path) : NULL;
  p->dl = dl;
  p->desc = *desc;
  reg->plugins[reg->count++] = p;
  return 0;
}

int plugin_registry_add_static(struct plugin_registry *reg,
                               const struct weft_plugin *raw,
                               const char *origin)
{
  struct weft_plugin desc;
  if (check_descriptor(reg, origin, raw, &desc) != 0)
    return -1;
  return add(reg, NULL, NULL, &desc);
}

static int check_file(struct plugin_registry *reg, const char *path)
{
  struct stat st;
  if (stat(path, &st) != 0) {
    refuse(reg, path, "cannot read it: %s", strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    refuse(reg, path, "not a regular file");
    return -1;
  }
  if (st.st_mode & S_IWOTH) {
    refuse(reg, path,
           "writable by every user, so anyone could replace it; run "
           "chmod o-w on it");
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    refuse(reg, path, "cannot open it: %s", strerror(errno));
    return -1;
  }
  unsigned char magic[4] = {0};
  ssize_t n = read(fd, magic, sizeof magic);
  close(fd);
  if (n != 4 || memcmp(magic, "\x7f" "ELF", 4) != 0) {
    refuse(reg, path, "not a shared object (no ELF header)");
    return -1;
  }
  return 0;
}

int plugin_registry_load_file(struct plugin_registry *reg, const char *path)
{
  if (check_file(reg, path) != 0)
    return -1;
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char *why = dlerror();
    refuse(reg, path, "dlopen failed: %s", why ? why : "unknown error");
    return -1;
  }
  dlerror();
  void *sym = dlsym(dl, WEFT_PLUGIN_ENTRY_SYMBOL);
  if (!sym) {
    refuse(reg, path,
           "no entry symbol '%s' (is it a Weft plugin? see "
           "docs/plugin-guide.md)",
           WEFT_PLUGIN_ENTRY_SYMBOL);
    dlclose(dl);
    return -1;
  }
  weft_plugin_entry_fn entry;
  memcpy(&entry, &sym, sizeof entry); /* object to function pointer */
  struct weft_plugin desc;
  if (check_descriptor(reg, path, entry(), &desc) != 0 ||
      add(reg, path, dl, &desc) != 0) {
    dlclose(dl);
    return -1;
  }
  log_debug("loaded plugin %s from %s", desc.name, path);
  return 0;
}

static int compare_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void remember_dir(struct plugin_registry *reg, const char *dir)
{
  char **dirs = realloc(reg->dirs, (reg->dir_count + 1) * sizeof *dirs);
  if (!dirs)
    return;
  reg->dirs = dirs;
  if ((reg->dirs[reg->dir_count] = strdup(dir)))
    reg->dir_count++;
}

void plugin_registry_scan_dir(struct plugin_registry *reg, const char *dir,
                              bool explicit_dir)
{
  DIR *d = opendir(dir);
  if (!d) {
    if (explicit_dir)
      refuse(reg, dir, "cannot open plugin directory: %s", strerror(errno));
    else
      log_debug("plugin directory %s: %s", dir, strerror(errno));
    return;
  }
  remember_dir(reg, dir);
  char **names = NULL;
  size_t count = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 ||
        e->d_name[0] == '.')
      continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 16;
      char **n = realloc(names, cap * sizeof *n);
      if (!n)
        break;
      names = n;
    }
    if ((names[count] = strdup(e->d_name)))
      count++;
  }
  closedir(d);
  qsort(names, count, sizeof *names, compare_names);
  for (size_t i = 0; i < count; i++) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) <
        (int)sizeof path)
      plugin_registry_load_file(reg, path);
    free(names[i]);
  }
  free(names);
}

const char *plugin_builtin_dir(void)
{
  /* A weft that runs from its build tree uses the plugins built beside it,
   * so a fresh build needs no flag; an installed one uses the install dir. */
  static char dir[PATH_MAX];
  char exe[PATH_MAX], root[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0 && realpath(WEFT_BUILD_ROOT, root)) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      if (strcmp(exe, root) == 0 &&
          snprintf(dir, sizeof dir, "%s/plugins", root) < (int)sizeof dir)
        return dir;
    }
  }
  return WEFT_INSTALLED_PLUGIN_DIR;
}

void plugin_registry_scan_default(struct plugin_registry *reg,
                                  const char *plugin_dir)
{
  if (plugin_dir)
    plugin_registry_scan_dir(reg, plugin_dir, true);
  const char *env = getenv("WEFT_PLUGIN_PATH");
  if (env && *env) {
    char *copy = strdup(env), *save = NULL;
    for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir;
         dir = strtok_r(NULL, ":", &save))
      plugin_registry_scan_dir(reg, dir, true);
    free(copy);
  }
  plugin_registry_scan_dir(reg, plugin_builtin_dir(), false);
}

static void unload(struct plugin *p)
{
  /* Its code goes with dlclose: destroy ran first, or create never
   * succeeded (nothing of it is alive). */
  assert(!p->initialized);
  strpool_free(&p->config_strings);
  free(p->config);
  if (p->dl)
    dlclose(p->dl);
  free(p->path);
  free(p);
}

static int give_state_dir(struct plugin *p, const char *root, char *why,
                          size_t whylen)
{
  size_t len = strlen(root) + strlen(p->desc.name) + 16;
  char *dir = malloc(len);
  if (!dir)
    return snprintf(why, whylen, "out of memory"), -1;
  snprintf(dir, len, "%s/plugins/%s", root, p->desc.name);
  char err[512];
  if (state_dir_prepare(dir, err, sizeof err) != 0) {
    snprintf(why, whylen, "%s", err);
    free(dir);
    return -1;
  }
  p->binding.state_dir = dir;
  p->binding.host.state_dir = dir;
  return 0;
}

static int start_one(struct plugin *p, struct uv_loop_s *loop,
                     const struct plugin_registry *reg_pool,
                     const char *state_root, plugin_options_fn *fill,
                     const void *fill_arg, char *why, size_t whylen)
{
  host_binding_init(&p->binding, p->desc.name, loop);
  if (reg_pool && reg_pool->pool[0]) {
    snprintf(p->binding.pool, sizeof p->binding.pool, "%s", reg_pool->pool);
    snprintf(p->binding.server_address, sizeof p->binding.server_address,
             "%s", reg_pool->server_address);
    p->binding.host.pool = p->binding.pool;
    p->binding.host.server_address = p->binding.server_address;
  }
  if (state_root && give_state_dir(p, state_root, why, whylen) != 0)
    return -1;
  p->config = calloc(1, p->desc.config_size ? p->desc.config_size : 1);
  if (!p->config)
    return snprintf(why, whylen, "out of memory"), -1;
  if (options_set_defaults(p->desc.options, p->config, &p->config_strings, why,
                           whylen) != 0)
    return -1;
  if (fill &&
      fill(fill_arg, p, p->config, &p->config_strings, why, whylen) != 0)
    return -1;
  int rc = p->desc.create(&p->binding.host, p->config, &p->ctx);
  if (rc != 0) {
    snprintf(why, whylen, "init failed (%s): %s", weft_err_name(rc),
             p->binding.last_error[0] ? p->binding.last_error
                                      : weft_strerror(rc));
    host_binding_release(&p->binding);
    return -1;
  }
  p->initialized = true;
  return 0;
}

void plugin_registry_start(struct plugin_registry *reg,
                           struct uv_loop_s *loop, plugin_options_fn *fill,
                           const void *fill_arg)
{
  size_t kept = 0;
  for (size_t i = 0; i < reg->count; i++) {
    struct plugin *p = reg->plugins[i];
    char why[512];
    if (!p->initialized &&
        start_one(p, loop, reg, reg->state_root, fill, fill_arg, why,
                  sizeof why) != 0) {
      refuse(reg, p->path ? p->path : p->desc.name, "%s", why);
      unload(p);
      continue;
    }
    reg->plugins[kept++] = p;
  }
  reg->count = kept;
}

void plugin_registry_set_tokens(struct plugin_registry *reg,
                                struct tokens *tokens)
{
  for (size_t i = 0; i < reg->count; i++)
    reg->plugins[i]->binding.tokens = tokens;
}

void plugin_registry_set_datagram_sender(
    struct plugin_registry *reg,
    int (*send)(void *ctx, const char *plugin_name, const char *tunnel_id,
                const struct weft_udp_peer *peer, const void *data,
                size_t len),
    void *ctx)
{
  for (size_t i = 0; i < reg->count; i++) {
    reg->plugins[i]->binding.send_datagram = send;
    reg->plugins[i]->binding.datagram_ctx = ctx;
  }
}

void plugin_registry_set_renewer(struct plugin_registry *reg,
                                 const struct host_renewer *renewer)
{
  for (size_t i = 0; i < reg->count; i++)
    reg->plugins[i]->binding.renewer = *renewer;
}

int plugin_registry_set_state_root(struct plugin_registry *reg,
                                   const char *root)
{
  free(reg->state_root);
  reg->state_root = root ? strdup(root) : NULL;
  return root && !reg->state_root ? -1 : 0;
}

void plugin_registry_set_pool(struct plugin_registry *reg, const char *pool,
                              const char *server_address)
{
  snprintf(reg->pool, sizeof reg->pool, "%s", pool);
  snprintf(reg->server_address, sizeof reg->server_address, "%s",
           server_address);
}

void plugin_registry_set_toucher(struct plugin_registry *reg,
                                 void (*touch)(void *ctx,
                                               const char *plugin_name,
                                               const char *tunnel_id),
                                 void *ctx)
{
  for (size_t i = 0; i < reg->count; i++) {
    reg->plugins[i]->binding.touch = touch;
    reg->plugins[i]->binding.touch_ctx = ctx;
  }
}

void plugin_registry_set_auditor(
    struct plugin_registry *reg,
    void (*audit)(void *ctx, const char *plugin_name, const char *tunnel_id,
                  const char *event, const char *detail),
    void *ctx)
{
  for (size_t i = 0; i < reg->count; i++) {
    reg->plugins[i]->binding.audit = audit;
    reg->plugins[i]->binding.audit_ctx = ctx;
  }
}

void plugin_registry_set_state_recorder(
    struct plugin_registry *reg,
    void (*record)(void *ctx, const char *tunnel_id,
                   const struct weft_tunnel_state *state),
    void *ctx)
{
  for (size_t i = 0; i < reg->count; i++) {
    reg->plugins[i]->binding.record_state = record;
    reg->plugins[i]->binding.state_ctx = ctx;
  }
}

void plugin_registry_stop(struct plugin_registry *reg)
{
  for (size_t i = reg->count; i-- > 0;) {
    struct plugin *p = reg->plugins[i];
    if (!p->initialized)
      continue;
    p->desc.destroy(p->ctx);
    p->ctx = NULL;
    p->initialized = false;
    host_binding_release(&p->binding);
  }
}

void plugin_registry_free(struct plugin_registry *reg)
{
  plugin_registry_stop(reg);
  for (size_t i = 0; i < reg->count; i++)
    unload(reg->plugins[i]);
  free(reg->plugins);
  for (size_t i = 0; i < reg->refused_count; i++) {
    free(reg->refused[i].path);
    free(reg->refused[i].reason);
  }
  free(reg->refused);
  for (size_t i = 0; i < reg->dir_count; i++)
    free(reg->dirs[i]);
  free(reg->dirs);
  free(reg->state_root);
  memset(reg, 0, sizeof *reg);
}
