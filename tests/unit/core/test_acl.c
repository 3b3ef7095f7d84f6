/* ACLs and the lists they are made of. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "auth/acl.h"
#include "config/config.h"
#include "plugin/plugin_registry.h"

static char why[512];

Test(netlist, ports)
{
  struct port_list l;
  cr_assert_eq(port_list_parse("22, 80,8000-8100", &l, why, sizeof why), 0);
  cr_assert(port_list_has(&l, 22));
  cr_assert(port_list_has(&l, 8050));
  cr_assert_not(port_list_has(&l, 23));
  cr_assert_not(port_list_has(&l, 8101));
  const char *bad[] = {"0", "65536", "22-21", "a", "22,,23", "-5", "1-",
                       "+22"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(port_list_parse(bad[i], &l, why, sizeof why), -1, "%s",
                 bad[i]);
}

Test(netlist, prefixes_cover_both_families)
{
  struct prefix_list l;
  cr_assert_eq(prefix_list_parse("10.0.0.0/8, 2001:db8::/32, 192.0.2.7", &l,
                                 why, sizeof why),
               0, "%s", why);
  uint8_t a[16];
  addr_parse("10.9.8.7", a);
  cr_assert(prefix_list_has(&l, a));
  addr_parse("::ffff:10.9.8.7", a);
  cr_assert(prefix_list_has(&l, a), "v4-mapped form matches too");
  addr_parse("11.0.0.1", a);
  cr_assert_not(prefix_list_has(&l, a));
  addr_parse("2001:db8:1::5", a);
  cr_assert(prefix_list_has(&l, a));
  addr_parse("192.0.2.7", a);
  cr_assert(prefix_list_has(&l, a));
  addr_parse("192.0.2.8", a);
  cr_assert_not(prefix_list_has(&l, a));
  cr_assert_eq(prefix_list_parse("any", &l, why, sizeof why), 0);
  cr_assert(prefix_list_has(&l, a));
  cr_assert_eq(prefix_list_parse("10.0.0.0/33", &l, why, sizeof why), -1);
  cr_assert_eq(prefix_list_parse("example.com", &l, why, sizeof why), -1);
}

Test(netlist, host_patterns)
{
  struct host_list l;
  cr_assert_eq(host_list_parse("app.example.com, *.dev.Example.com", &l, why,
                               sizeof why),
               0);
  cr_assert(host_list_has(&l, "app.example.com"));
  cr_assert(host_list_has(&l, "a.dev.example.com"));
  cr_assert(host_list_has(&l, "a.b.dev.example.com"));
  cr_assert_not(host_list_has(&l, "dev.example.com"));
  cr_assert_not(host_list_has(&l, "evildev.example.com"));
  cr_assert_not(host_list_has(&l, "other.example.com"));
  cr_assert_eq(host_list_parse("*.*.com", &l, why, sizeof why), -1);
  cr_assert_eq(host_list_parse("10.0.0.1", &l, why, sizeof why), -1);
}

Test(acl, special_targets_are_refused)
{
  const char *refused[] = {"127.0.0.1",        "127.1.2.3",
                           "::1",              "::ffff:127.0.0.1",
                           "169.254.169.254",  "::ffff:169.254.169.254",
                           "169.254.1.1",      "fe80::1",
                           "0.0.0.0",          "::",
                           "fd00:ec2::254",    "100.100.100.200",
                           "224.0.0.1",        "255.255.255.255",
                           "64:ff9b::7f00:1",  "2002:7f00:1::1"};
  struct acl_rules rules;
  struct acl_policy none = {0};
  acl_effective(&none, "dev", &rules);
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    cr_assert_eq(acl_check_target(&rules, refused[i], 80, why, sizeof why), -1,
                 "%s allowed", refused[i]);
    cr_assert(strstr(why, "allow_special_targets"), "%s", why);
  }
  cr_assert_eq(acl_check_target(&rules, "10.1.0.5", 22, why, sizeof why), 0);
  cr_assert_eq(acl_check_target(&rules, "2001:db8::1", 22, why, sizeof why), 0);
  cr_assert_eq(acl_check_target(&rules, "not-an-ip", 22, why, sizeof why), -1);
  rules.allow_special_targets = true;
  cr_assert_eq(acl_check_target(&rules, "127.0.0.1", 22, why, sizeof why), 0);
}

static bool in_pool(const uint8_t a[16], void *arg)
{
  (void)arg;
  return addr_is_v4(a) && a[12] == 10 && a[13] == 1;
}

Test(acl, device_to_device_is_refused)
{
  cr_assert_eq(acl_check_device_to_device("10.1.0.2", "10.1.0.3", in_pool,
                                          NULL, why, sizeof why),
               -1);
  cr_assert(strstr(why, "device-to-device"));
  cr_assert_eq(acl_check_device_to_device("192.0.2.1", "10.1.0.3", in_pool,
                                          NULL, why, sizeof why),
               0);
}

static struct conf *load(const char *text, struct plugin_registry *reg)
{
  struct strbuf errors = {0};
  struct conf *c = conf_load_buffer("acl.conf", text, strlen(text), reg,
                                    &errors);
  cr_assert_not_null(c, "%s", strbuf_str(&errors));
  strbuf_free(&errors);
  return c;
}

Test(acl, layers_defaults_class_device)
{
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  struct conf *c = load("[class \"default\"]\n"
                        "reach_ports = 22\n"
                        "[class \"fleet\"]\n"
                        "publish_ports = 2200-2299\n"
                        "reach_ports = 22, 9100\n"
                        "[device \"agent-7\"]\n"
                        "class = fleet\n"
                        "allow_ips = 192.0.2.0/24\n"
                        "[device \"lab\"]\n"
                        "allow_special_targets = true\n",
                        &reg);
  struct acl_policy policy;
  cr_assert_eq(conf_acl_policy(c, &policy), 0);
  struct acl_rules r;

  acl_effective(&policy, "stranger", &r);
  cr_assert_eq(acl_check_reach(&r, 22, why, sizeof why), 0);
  cr_assert_eq(acl_check_reach(&r, 80, why, sizeof why), -1, "default class");
  struct url u;
  url_parse("tcp://:8080", &u, why, sizeof why);
  cr_assert_eq(acl_check_publish(&r, &u, why, sizeof why), 0);
  url_parse("tcp://:80", &u, why, sizeof why);
  cr_assert_eq(acl_check_publish(&r, &u, why, sizeof why), -1);
  cr_assert(strstr(why, "may not publish port 80"));
  cr_assert_eq(acl_check_source(&r.allow_ips, "203.0.113.9", why, sizeof why),
               0);

  acl_effective(&policy, "agent-7", &r);
  cr_assert_eq(acl_check_reach(&r, 9100, why, sizeof why), 0);
  url_parse("tcp://:2222", &u, why, sizeof why);
  cr_assert_eq(acl_check_publish(&r, &u, why, sizeof why), 0);
  url_parse("tcp://:8080", &u, why, sizeof why);
  cr_assert_eq(acl_check_publish(&r, &u, why, sizeof why), -1);
  cr_assert_eq(acl_check_source(&r.allow_ips, "192.0.2.44", why, sizeof why),
               0);
  cr_assert_eq(acl_check_source(&r.allow_ips, "203.0.113.9", why, sizeof why),
               -1);
  cr_assert_eq(acl_check_target(&r, "127.0.0.1", 22, why, sizeof why), -1);

  acl_effective(&policy, "lab", &r);
  cr_assert_eq(acl_check_target(&r, "127.0.0.1", 22, why, sizeof why), 0);

  acl_policy_free(&policy);
  conf_free(c);
  plugin_registry_free(&reg);
}

Test(acl, host_publishing)
{
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  struct conf *c = load("[class \"default\"]\n"
                        "publish_hosts = *.dev.example.com\n",
                        &reg);
  struct acl_policy policy;
  conf_acl_policy(c, &policy);
  struct acl_rules r;
  acl_effective(&policy, "x", &r);
  struct url u;
  url_parse("https://me.dev.example.com", &u, why, sizeof why);
  cr_assert_eq(acl_check_publish(&r, &u, why, sizeof why), 0);
  url_parse("https://bank.example.com", &u, why, sizeof why);
  cr_assert_eq(acl_check_publish(&r, &u, why, sizeof why), -1);
  cr_assert(strstr(why, "may not publish host name bank.example.com"));
  acl_policy_free(&policy);
  conf_free(c);
  plugin_registry_free(&reg);
}

Test(acl, config_errors_name_file_and_line)
{
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  struct {
    const char *text, *expect;
  } cases[] = {
      {"[class \"a\"]\nreach_ports = 22-\n",
       "acl.conf:2: [class \"a\"] reach_ports: '22-' is not a port"},
      {"[class \"a\"]\nallow_ips = 10.0.0.0/99\n",
       "acl.conf:2: [class \"a\"] allow_ips: '10.0.0.0/99': prefix length"},
      {"[device \"d\"]\nclass = ghost\n",
       "acl.conf:2: [device \"d\"] class: no [class \"ghost\"] section"},
      {"[device \"d\"]\nreach = 1\n",
       "acl.conf:2: unknown key 'reach' in [device \"d\"]: valid keys are "
       "class, publish_ports"},
      {"[class a]\n", "acl.conf:1: a class section needs a quoted name"},
      {"[server]\npool = 10.0.0.0/31\n", "acl.conf:2: [server] pool:"},
      {"[server]\npool = 2001:db8::/64\n", "acl.conf:2: [server] pool:"},
      {"[server]\nmetrics_allow = nowhere\n",
       "acl.conf:2: [server] metrics_allow:"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct strbuf errors = {0};
    struct conf *c = conf_load_buffer("acl.conf", cases[i].text,
                                      strlen(cases[i].text), &reg, &errors);
    cr_assert_null(c, "accepted %s", cases[i].text);
    cr_assert(strstr(strbuf_str(&errors), cases[i].expect), "%s\nlacks %s",
              strbuf_str(&errors), cases[i].expect);
    strbuf_free(&errors);
  }
  plugin_registry_free(&reg);
}

/* What the core hands plugins as reach_ports reads back the same. */
Test(netlist, port_list_format)
{
  struct port_list l;
  char why[128], text[1024];
  cr_assert_eq(port_list_parse("22, 80,8000-8100", &l, why, sizeof why), 0);
  port_list_format(&l, text, sizeof text);
  cr_assert_str_eq(text, "22,80,8000-8100");
  l.count = 0; /* a device operators may reach on no port */
  port_list_format(&l, text, sizeof text);
  cr_assert_str_eq(text, "");
}
