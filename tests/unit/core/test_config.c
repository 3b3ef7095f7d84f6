#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "plugin/plugin_registry.h"

/* A transport linked into the test, declaring options of every type. */
struct fake_conf {
  const char *mode;
  int64_t port;
  bool fast;
  int64_t timeout_ms;
};
struct fake_tunnel_conf {
  const char *bastion;
  int64_t remote_port;
};

static const struct weft_option fake_options[] = {
    {"mode", WEFT_OPT_ENUM, offsetof(struct fake_conf, mode), "auto", "m",
     "auto|kernel|uapi", 0, 0, 0},
    {"port", WEFT_OPT_INT, offsetof(struct fake_conf, port), "30000", "p",
     NULL, 1, 65535, 0},
    {"fast", WEFT_OPT_BOOL, offsetof(struct fake_conf, fast), "false", "f",
     NULL, 0, 0, 0},
    {"timeout", WEFT_OPT_DURATION, offsetof(struct fake_conf, timeout_ms),
     "30s", "t", NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
};
static const struct weft_option fake_tunnel_options[] = {
    {"bastion", WEFT_OPT_STRING, offsetof(struct fake_tunnel_conf, bastion),
     NULL, "b", NULL, 0, 0, 0},
    {"remote_port", WEFT_OPT_INT,
     offsetof(struct fake_tunnel_conf, remote_port), "22", "r", NULL, 1, 65535,
     0},
    WEFT_OPTIONS_END,
};

static int fake_create(const struct weft_host *h, const void *c, void **ctx)
{
  (void)h, (void)c, (void)ctx;
  return 0;
}
static void fake_destroy(void *ctx) { (void)ctx; }
static int fake_open(void *ctx, const struct weft_tunnel_info *t, void **tc)
{
  (void)ctx, (void)t, (void)tc;
  return 0;
}
static void fake_close(void *ctx, void *tc) { (void)ctx, (void)tc; }

static const struct weft_plugin fake = {
    WEFT_PLUGIN_HEADER,
    .name = "fake",
    .description = "test transport",
    .caps = WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_HTTP,
    .options = fake_options,
    .config_size = sizeof(struct fake_conf),
    .tunnel_options = fake_tunnel_options,
    .tunnel_config_size = sizeof(struct fake_tunnel_conf),
    .create = fake_create,
    .destroy = fake_destroy,
    .client_tunnel_open = fake_open,
    .client_tunnel_close = fake_close,
};

static struct plugin_registry reg;
static struct strbuf errors;

static void setup(void)
{
  plugin_registry_init_empty(&reg);
  cr_assert_eq(plugin_registry_add_static(&reg, &fake, "test"), 0);
  memset(&errors, 0, sizeof errors);
}

static void teardown(void)
{
  plugin_registry_free(&reg);
  strbuf_free(&errors);
}

static struct conf *load(const char *text)
{
  strbuf_reset(&errors);
  return conf_load_buffer("t.conf", text, strlen(text), &reg, &errors);
}

/* The file must be refused with `expect` in the messages. */
static void refused(const char *text, const char *expect)
{
  struct conf *c = load(text);
  cr_assert_null(c, "accepted:\n%s", text);
  cr_assert(strstr(strbuf_str(&errors), expect),
            "errors:\n%s\nlack: %s", strbuf_str(&errors), expect);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, embedded_defaults)
{
  struct conf *c = conf_defaults();
  cr_assert_not_null(c);
  cr_assert_str_eq(c->server.listen, "0.0.0.0:9092");
  cr_assert_str_eq(c->server.log_level, "info");
  cr_assert_not(c->server.use_secret_per_ip);
  cr_assert_null(c->server.state_dir);
  conf_free(c);
}

Test(config, full_file)
{
  struct conf *c = load("; comment\n"
                        "# another\n"
                        "[server]\n"
                        "listen = 127.0.0.1:9100, [::1]:9100\n"
                        "state_dir = /tmp/x\n"
                        "use_secret_per_ip = yes\n"
                        "\n"
                        "[tunnel \"nas-ssh\"]\n"
                        "transport = fake\n"
                        "local = tcp://127.0.0.1:22\n"
                        "remote = tcp://:2222\n"
                        "bastion = me@bastion.example\n"
                        "\n"
                        "[tunnel \"web\"]\n"
                        "transport = fake\n"
                        "local = http://localhost:3000\n"
                        "\n"
                        "[transport.fake]\n"
                        "mode = uapi ; inline comment\n"
                        "timeout = 2m\n");
  cr_assert_not_null(c, "%s", strbuf_str(&errors));
  cr_assert_str_eq(c->server.listen, "127.0.0.1:9100, [::1]:9100");
  cr_assert_str_eq(c->server.state_dir, "/tmp/x");
  cr_assert(c->server.use_secret_per_ip);
  cr_assert_eq(c->tunnel_count, 2);
  const struct conf_tunnel *t = &c->tunnels[0];
  cr_assert_str_eq(t->name, "nas-ssh");
  cr_assert_eq(t->line, 8);
  cr_assert_str_eq(t->transport, "fake");
  cr_assert_eq(t->local.port, 22);
  cr_assert(t->has_remote);
  cr_assert_eq(t->remote.port, 2222);
  const struct fake_tunnel_conf *tc = t->plugin_config;
  cr_assert_str_eq(tc->bastion, "me@bastion.example");
  cr_assert_eq(tc->remote_port, 22, "default applied");
  cr_assert_not(c->tunnels[1].has_remote);

  struct fake_conf fc = {0};
  struct strpool pool = {0};
  char why[256];
  struct plugin *p = plugin_registry_find(&reg, "fake");
  cr_assert_eq(conf_plugin_options(c, p, &fc, &pool, why, sizeof why),
               0, "%s", why);
  cr_assert_str_eq(fc.mode, "uapi");
  cr_assert_eq(fc.timeout_ms, 120000);
  strpool_free(&pool);
  conf_free(c);
}

Test(config, empty_file_is_defaults)
{
  struct conf *c = load("");
  cr_assert_not_null(c);
  cr_assert_str_eq(c->server.listen, "0.0.0.0:9092");
  conf_free(c);
}

Test(config, unknown_section_even_when_empty)
{
  refused("[server]\n\n[servr]\n", "t.conf:3: unknown section [servr]");
  refused("[transports.fake]\n", "valid sections are [server]");
}

Test(config, unknown_server_key_lists_valid_ones)
{
  refused("[server]\nlisten = 0.0.0.0:1\nlisen = x\n",
          "t.conf:3: unknown key 'lisen' in [server]: valid keys are listen, "
          "http_listen, public_host, state_dir");
}

Test(config, bad_values_name_the_key)
{
  refused("[server]\nuse_secret_per_ip = maybe\n",
          "t.conf:2: [server] use_secret_per_ip: 'maybe' is not a boolean");
  refused("[server]\nlog_level = loud\n",
          "t.conf:2: [server] log_level: 'loud' is not one of: "
          "error|warning|info|debug");
  refused("[server]\nlisten = 0.0.0.0\n",
          "t.conf:2: [server] listen: '0.0.0.0' needs a port");
  refused("[server]\nlisten = 0.0.0.0:1, [::1:2\n",
          "t.conf:2: [server] listen:");
  refused("[transport.fake]\nport = 70000\n",
          "t.conf:2: [transport.fake] port: 70000 is out of range 1-65535");
  refused("[transport.fake]\ntimeout = 5 minutes\n",
          "t.conf:2: [transport.fake] timeout: '5 minutes' has an unknown "
          "unit");
  refused("[transport.fake]\nmode = fast\n", "is not one of: auto|kernel|uapi");
}

Test(config, unknown_plugin_key_lists_plugin_keys)
{
  refused("[transport.fake]\nmod = uapi\n",
          "t.conf:2: unknown key 'mod' in [transport.fake]: plugin fake "
          "declares: mode, port, fast, timeout");
}

Test(config, unknown_transport)
{
  refused("[transport.nope]\nx = 1\n",
          "t.conf:1: [transport.nope]: no loaded plugin provides transport "
          "'nope' (loaded: fake)");
  refused("[tunnel \"a\"]\ntransport = nope\nlocal = tcp://127.0.0.1:1\n",
          "t.conf:2: [tunnel \"a\"]: no loaded plugin provides transport "
          "'nope' (loaded: fake)");
}

Test(config, tunnel_sections)
{
  refused("[tunnel \"a\"]\nlocal = tcp://127.0.0.1:1\n",
          "t.conf:1: [tunnel \"a\"] has no 'transport' key (loaded "
          "transports: fake)");
  refused("[tunnel \"a\"]\ntransport = fake\n",
          "t.conf:1: [tunnel \"a\"] has no 'local' key");
  refused("[tunnel a]\n", "t.conf:1: a tunnel section needs a quoted name");
  refused("[tunnel \"bad name\"]\n", "tunnel name \"bad name\" must be");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = tcp://127.0.0.1\n",
          "t.conf:3: [tunnel \"a\"] local: tcp URL 'tcp://127.0.0.1' needs a "
          "port");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = tcp://127.0.0.1:1\n"
          "remote = udp://:53\n",
          "t.conf:4: [tunnel \"a\"]: a tcp local service cannot be published "
          "as udp");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = http://127.0.0.1:1\n"
          "remote = http://app.example.test/myapp\n",
          "t.conf:4: [tunnel \"a\"]: a remote path (/myapp) cannot be "
          "published");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = udp://127.0.0.1:53\n",
          "transport 'fake' cannot carry udp (it declares: client tcp http)");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = tcp://:22\n",
          "the local URL needs a host");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = tcp://127.0.0.1:1\n"
          "remote_prt = 5\n",
          "t.conf:4: unknown key 'remote_prt' in [tunnel \"a\"]: valid keys "
          "are transport, local, remote, device_id, and for transport fake: "
          "bastion, remote_port");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = tcp://127.0.0.1:1\n"
          "remote = tcp://name.example:22\n",
          "binds an address on the server");
}

Test(config, duplicates)
{
  refused("[server]\nlisten = 0.0.0.0:1\n[server]\n",
          "t.conf:3: [server] appears twice (first at line 1)");
  refused("[server]\nlisten = 0.0.0.0:1\nlisten = 0.0.0.0:2\n",
          "t.conf:3: 'listen' is set twice in [server] (first at line 2)");
  refused("[tunnel \"a\"]\ntransport = fake\nlocal = tcp://127.0.0.1:1\n"
          "[tunnel \"a\"]\n",
          "t.conf:4: [tunnel \"a\"] appears twice (first at line 1)");
}

Test(config, syntax_errors)
{
  refused("listen = 1\n", "t.conf:1: 'listen' is outside any section");
  refused("[server]\nthis line has no equals sign\n",
          "t.conf:2: syntax error");
  refused("[server\n", "t.conf:1: section header without a closing ']'");
  refused("[server] trailing\n", "unexpected text after ']'");
  refused("[server]\nlisten = 0.0.0.0:1\x01\n", "control character");
}

Test(config, long_lines_and_nul_bytes)
{
  char text[10000];
  int n = snprintf(text, sizeof text, "[server]\nemail = ");
  memset(text + n, 'a', 5000);
  strcpy(text + n + 5000, "\n");
  refused(text, "t.conf:2: line is longer than 4093 characters");

  /* A long line within the limit is fine (inih's own default is 200). */
  n = snprintf(text, sizeof text, "[server]\nemail = ");
  memset(text + n, 'a', 3000);
  strcpy(text + n + 3000, "\n");
  struct conf *c = load(text);
  cr_assert_not_null(c, "%s", strbuf_str(&errors));
  cr_assert_eq(strlen(c->server.email), 3000);
  conf_free(c);

  static const char with_nul[] = "[server]\nemail = a\0b\n";
  strbuf_reset(&errors);
  c = conf_load_buffer("t.conf", with_nul, sizeof with_nul - 1, &reg, &errors);
  cr_assert_null(c);
  cr_assert(strstr(strbuf_str(&errors), "t.conf:2: line contains a NUL byte"));
}

Test(config, reports_several_errors_at_once)
{
  refused("[server]\nlisen = 1\nlog_level = loud\n", "t.conf:2:");
  cr_assert(strstr(strbuf_str(&errors), "t.conf:3:"));
}

Test(config, missing_file)
{
  strbuf_reset(&errors);
  cr_assert_null(conf_load_file("/nonexistent/weft.conf", &reg, &errors));
  cr_assert(strstr(strbuf_str(&errors),
                   "/nonexistent/weft.conf: cannot open: No such file"));
}

Test(config, describe_changes)
{
  struct conf *a = load("[server]\nlisten = 0.0.0.0:1\n"
                        "[tunnel \"a\"]\ntransport = fake\n"
                        "local = tcp://127.0.0.1:1\n"
                        "[tunnel \"b\"]\ntransport = fake\n"
                        "local = tcp://127.0.0.1:2\n");
  struct conf *b = load("[server]\nlisten = 0.0.0.0:2\n"
                        "[tunnel \"a\"]\ntransport = fake\n"
                        "local = tcp://127.0.0.1:9\n"
                        "[tunnel \"c\"]\ntransport = fake\n"
                        "local = tcp://127.0.0.1:3\n");
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  struct strbuf out = {0};
  conf_describe_changes(a, b, &out);
  const char *s = strbuf_str(&out);
  cr_assert(strstr(s, "[server] changed: listen (takes effect when weft "
                      "restarts)"),
            "%s", s);
  cr_assert(strstr(s, "[tunnel \"a\"] changed: local"), "%s", s);
  cr_assert(strstr(s, "[tunnel \"c\"] added"), "%s", s);
  cr_assert(strstr(s, "[tunnel \"b\"] removed"), "%s", s);
  strbuf_reset(&out);
  conf_describe_changes(a, a, &out);
  cr_assert_str_eq(strbuf_str(&out), "no changes\n");
  strbuf_free(&out);
  conf_free(a);
  conf_free(b);
}
