/* Leases over a real SQLite store in a temporary directory, with a fake
 * clock: allocation, exhaustion, quarantine, idle and expiry, one tunnel per
 * device, and restore after a restart. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/errors.h>

#include "tunnel/leases.h"
#include "base/log.h"

static char dir[64], path[128], why[512];
static struct store *store;
static struct leases ls;
static struct lease_config cfg;
#define T0 1700000000

static void config(const char *pool, const char *ports)
{
  cr_assert_eq(lease_config_from_text(&cfg, pool, ports, 15 * 60 * 1000,
                                      24 * 3600 * 1000, 300 * 1000, 100, why,
                                      sizeof why),
               0, "%s", why);
}

static void open_all(void)
{
  cr_assert_eq(store_open_sqlite(path, &store, why, sizeof why), 0, "%s", why);
  cr_assert_eq(leases_open(&ls, store, &cfg, T0, NULL, NULL), 0);
}

static void close_all(void)
{
  leases_close(&ls);
  store->ops->close(store);
}

static void setup(void)
{
  log_set_level(WEFT_LOG_ERROR);
  snprintf(dir, sizeof dir, "/tmp/weft-leases-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/store.db", dir);
  config("10.1.0.0/16", "20000-20002");
  open_all();
}

static void teardown(void)
{
  close_all();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(leases, .init = setup, .fini = teardown);

/* A device's live tunnels at most, as its ACL would say. */
static unsigned device_max = 64;

static int create(const char *device, const char *local, const char *remote,
                  bool address, int64_t now, struct lease **out)
{
  struct url r;
  if (remote)
    cr_assert_eq(url_parse(remote, &r, why, sizeof why), 0);
  struct lease_request req = {
      .device_id = device, .transport = "websocket", .local_url = local,
      .remote = remote ? &r : NULL, .remote_text = remote,
      .wants_address = address, .public_host = "srv.example",
      .path_base = "http://srv.example:8080", .device_max = device_max};
  struct lease *dummy;
  return leases_create(&ls, &req, now, out ? out : &dummy, why, sizeof why);
}

Test(leases, addresses_skip_network_server_and_broadcast)
{
  char text[32];
  leases_addr_text(leases_server_address(&cfg), text, sizeof text);
  cr_assert_str_eq(text, "10.1.255.254");
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, true, T0, &l), 0);
  leases_addr_text(l->vip, text, sizeof text);
  cr_assert_str_eq(text, "10.1.0.1");
  cr_assert(leases_is_device_address(&cfg, l->vip));
  cr_assert_not(leases_is_device_address(&cfg, leases_server_address(&cfg)));
  cr_assert_not(leases_is_device_address(&cfg, cfg.pool_net));
}

Test(leases, small_pool_exhausts_clearly)
{
  close_all();
  unlink(path);
  config("10.9.0.0/30", "20000-20002"); /* .1 only: .2 server, .3 broadcast */
  open_all();
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, true, T0, &l), 0);
  char text[32];
  leases_addr_text(l->vip, text, sizeof text);
  cr_assert_str_eq(text, "10.9.0.1");
  cr_assert_eq(create("b", "tcp://127.0.0.1:22", NULL, true, T0, NULL),
               WEFT_ELIMIT);
  cr_assert(strstr(why, "address pool is exhausted"), "%s", why);
}

Test(leases, freed_addresses_wait_in_quarantine)
{
  close_all();
  unlink(path);
  config("10.9.0.0/29", "20000-20002"); /* .1-.5 usable */
  open_all();
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, true, T0, &l), 0);
  uint32_t first = l->vip;
  char id[64];
  snprintf(id, sizeof id, "%s", l->tunnel_id);
  cr_assert_eq(leases_release(&ls, id, "deleted", "test", "by test", T0 + 1), 0);
  cr_assert_eq(create("b", "tcp://127.0.0.1:22", NULL, true, T0 + 2, &l), 0);
  cr_assert_neq(l->vip, first, "quarantined address handed out again");
  /* After the quarantine the address comes back. */
  snprintf(id, sizeof id, "%s", l->tunnel_id);
  leases_release(&ls, id, "deleted", "test", NULL, T0 + 3);
  cr_assert_eq(create("c", "tcp://127.0.0.1:22", NULL, true, T0 + 302, &l), 0);
  cr_assert_eq(l->vip, first);
}

Test(leases, a_device_holds_as_many_tunnels_as_its_class_allows)
{
  struct lease *l;
  device_max = 2;
  cr_assert_eq(create("dev1", "tcp://127.0.0.1:22", "tcp://:2222", false, T0,
                      &l),
               0);
  cr_assert_eq(create("dev1", "tcp://127.0.0.1:80", "tcp://:8080", false, T0,
                      NULL),
               0);
  cr_assert_eq(create("dev1", "tcp://127.0.0.1:81", "tcp://:8081", false, T0,
                      NULL),
               WEFT_EEXIST);
  cr_assert(strstr(why, "already has 2 live tunnels"), "%s", why);
  /* max_tunnels = 1 (a fleet's one agent per machine) names the one. */
  device_max = 1;
  cr_assert_eq(create("dev2", "tcp://127.0.0.1:22", "tcp://:2223", false, T0,
                      &l),
               0);
  cr_assert_eq(create("dev2", "tcp://127.0.0.1:80", "tcp://:8082", false, T0,
                      NULL),
               WEFT_EEXIST);
  char expect[128];
  snprintf(expect, sizeof expect, "already has a live tunnel: %s",
           l->tunnel_id);
  cr_assert(strstr(why, expect), "%s", why);
  cr_assert_eq(leases_find_device(&ls, "dev2"), l);
  device_max = 64;
}

Test(leases, ports_and_hostnames_are_held_once)
{
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", "tcp://:2222", false, T0, &l),
               0);
  cr_assert_str_eq(l->public_url, "tcp://srv.example:2222");
  cr_assert_eq(create("b", "tcp://127.0.0.1:22", "tcp://:2222", false, T0,
                      NULL),
               WEFT_EADDRINUSE);
  cr_assert(strstr(why, "tcp port 2222 is already published"));
  cr_assert_eq(create("c", "udp://127.0.0.1:53", "udp://:2222", false, T0,
                      NULL),
               0, "udp has its own ports");
  cr_assert_eq(create("d", "http://localhost:3000", "http://App.example.test",
                      false, T0, &l),
               0);
  cr_assert_str_eq(l->hostname, "app.example.test");
  cr_assert_str_eq(l->public_url, "http://app.example.test");
  cr_assert_eq(create("e", "http://localhost:3000", "https://app.example.test",
                      false, T0, NULL),
               WEFT_EADDRINUSE);
  cr_assert_eq(create("f", "http://localhost:3000", NULL, false, T0, &l), 0);
  char expect[128];
  snprintf(expect, sizeof expect, "http://srv.example:8080/%s/", l->tunnel_id);
  cr_assert_str_eq(l->public_url, expect);
}

Test(leases, ports_from_the_range_until_exhausted)
{
  struct lease *l;
  uint16_t seen[3];
  for (int i = 0; i < 3; i++) {
    char dev[8];
    snprintf(dev, sizeof dev, "d%d", i);
    cr_assert_eq(create(dev, "tcp://127.0.0.1:22", NULL, false, T0, &l), 0);
    seen[i] = l->port;
    cr_assert(l->port >= 20000 && l->port <= 20002);
  }
  cr_assert(seen[0] != seen[1] && seen[1] != seen[2] && seen[0] != seen[2]);
  cr_assert_eq(create("d3", "tcp://127.0.0.1:22", NULL, false, T0, NULL),
               WEFT_ELIMIT);
  cr_assert(strstr(why, "no free tcp port"), "%s", why);
}

struct reaped {
  int count;
  char reasons[8][32];
};

static void on_reaped(void *arg, const struct lease *l, const char *reason)
{
  (void)l;
  struct reaped *r = arg;
  snprintf(r->reasons[r->count++ % 8], 32, "%s", reason);
}

Test(leases, idle_timeout_reset_only_by_traffic)
{
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, true, T0, &l), 0);
  struct reaped r = {0};
  cr_assert_eq(leases_reap(&ls, T0 + 899, on_reaped, &r), 0);
  leases_touch(&ls, l, T0 + 899);
  cr_assert_eq(leases_reap(&ls, T0 + 1500, on_reaped, &r), 0,
               "traffic reset the idle timer");
  cr_assert_eq(leases_next_deadline(&ls, T0 + 1500), 299);
  cr_assert_eq(leases_reap(&ls, T0 + 899 + 900, on_reaped, &r), 1);
  cr_assert_str_eq(r.reasons[0], "idle-timeout");
  cr_assert_null(leases_find_device(&ls, "a"));
  cr_assert_eq(leases_next_deadline(&ls, T0), -1);
}

/* A lease at the end of its term is renewed while its tunnel has public
 * traffic (and the renewal is stored): lease_ttl never ends a used tunnel. */
Test(leases, ttl_renewed_while_used)
{
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, false, T0, &l), 0);
  struct reaped r = {0};
  for (int64_t t = T0; t <= T0 + 3 * 24 * 3600; t += 600) {
    leases_touch(&ls, l, t);
    cr_assert_eq(leases_reap(&ls, t, on_reaped, &r), 0, "reaped at +%lld s",
                 (long long)(t - T0));
  }
  cr_assert_gt(l->expires_at, T0 + 3 * 24 * 3600, "renewed");
  int64_t until = l->expires_at;
  close_all(); /* the renewal survives a restart */
  open_all();
  struct lease *back = leases_find_device(&ls, "a");
  cr_assert_not_null(back);
  cr_assert_eq(back->expires_at, until);
}

/* Without traffic during its term, a lease ends with it (here the idle
 * timeout is longer than the term). */
Test(leases, ttl_ends_an_unused_lease)
{
  close_all();
  cr_assert_eq(lease_config_from_text(&cfg, "10.1.0.0/16", "20000-20002",
                                      48 * 3600 * 1000, 3600 * 1000,
                                      300 * 1000, 100, why, sizeof why),
               0);
  open_all();
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, false, T0, &l), 0);
  struct reaped r = {0};
  leases_touch(&ls, l, T0 + 3500);
  cr_assert_eq(leases_reap(&ls, T0 + 3600, on_reaped, &r), 0, "used: renewed");
  cr_assert_eq(leases_reap(&ls, T0 + 7200, on_reaped, &r), 1);
  cr_assert_str_eq(r.reasons[0], "expired");
}

/* A term that ends while the server is down is renewed at its start if
 * the tunnel was used in it, as the reaper would have done: a restart at
 * the wrong moment does not end a busy tunnel. One unused in its term
 * ends. */
Test(leases, a_term_that_ends_while_down_is_renewed_if_used)
{
  close_all();
  cr_assert_eq(lease_config_from_text(&cfg, "10.1.0.0/16", "20000-20002",
                                      48 * 3600 * 1000, 3600 * 1000,
                                      300 * 1000, 100, why, sizeof why),
               0);
  open_all();
  struct lease *l;
  cr_assert_eq(create("used", "tcp://127.0.0.1:22", NULL, false, T0, &l), 0);
  char used_id[64];
  snprintf(used_id, sizeof used_id, "%s", l->tunnel_id);
  leases_touch(&ls, l, T0 + 3590);
  cr_assert_eq(create("unused", "tcp://127.0.0.1:22", NULL, false, T0, &l),
               0);
  close_all(); /* stopped 10 s before the term's end ... */
  cr_assert_eq(store_open_sqlite(path, &store, why, sizeof why), 0);
  struct reaped r = {0};
  /* ... and back 20 s after it */
  cr_assert_eq(leases_open(&ls, store, &cfg, T0 + 3620, on_reaped, &r), 0);
  cr_assert_eq(r.count, 1);
  cr_assert_str_eq(r.reasons[0], "expired");
  struct lease *back = leases_find(&ls, used_id);
  cr_assert_not_null(back, "the used lease is restored");
  cr_assert_eq(back->expires_at, T0 + 3620 + 3600, "renewed from the start");
  close_all(); /* the renewal is stored */
  open_all();
  back = leases_find(&ls, used_id);
  cr_assert_not_null(back);
  cr_assert_eq(back->expires_at, T0 + 3620 + 3600);
}

/* max_lifetime ends a tunnel however busy; renewals never pass it. */
Test(leases, max_lifetime_ends_a_used_lease)
{
  close_all();
  cfg.max_lifetime_s = 30 * 3600;
  open_all();
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, false, T0, &l), 0);
  struct reaped r = {0};
  for (int64_t t = T0; t < T0 + 30 * 3600; t += 600) {
    leases_touch(&ls, l, t);
    cr_assert_eq(leases_reap(&ls, t, on_reaped, &r), 0);
  }
  cr_assert_eq(l->expires_at, T0 + 30 * 3600, "the renewal stops at the end");
  cr_assert_eq(leases_next_deadline(&ls, T0 + 30 * 3600 - 10), 10);
  leases_touch(&ls, l, T0 + 30 * 3600);
  cr_assert_eq(leases_reap(&ls, T0 + 30 * 3600, on_reaped, &r), 1);
  cr_assert_str_eq(r.reasons[0], "max-lifetime");
}

static int count_audit(void *arg, const struct audit_event *e)
{
  int *n = arg;
  (void)e;
  (*n)++;
  return 0;
}

Test(leases, restart_restores_live_and_reaps_expired)
{
  struct lease *l;
  cr_assert_eq(create("live", "tcp://127.0.0.1:22", "tcp://:2222", true, T0,
                      &l),
               0);
  char live_id[64];
  snprintf(live_id, sizeof live_id, "%s", l->tunnel_id);
  uint32_t live_vip = l->vip;
  cr_assert_eq(create("old", "tcp://127.0.0.1:22", NULL, true, T0 - 800, &l),
               0);
  char old_id[64];
  snprintf(old_id, sizeof old_id, "%s", l->tunnel_id);
  leases_touch(&ls, leases_find(&ls, live_id), T0 + 600);
  close_all();

  /* Restart 400 s later: "old" has been idle for 1200 s. */
  cr_assert_eq(store_open_sqlite(path, &store, why, sizeof why), 0);
  struct reaped r = {0};
  cr_assert_eq(leases_open(&ls, store, &cfg, T0 + 400, on_reaped, &r), 0);
  cr_assert_eq(r.count, 1);
  cr_assert_str_eq(r.reasons[0], "idle-timeout");
  cr_assert_null(leases_find(&ls, old_id));
  struct lease *back = leases_find(&ls, live_id);
  cr_assert_not_null(back);
  cr_assert_eq(back->vip, live_vip);
  cr_assert_eq(back->port, 2222);
  cr_assert_eq(back->last_activity, T0 + 600, "activity persisted at close");
  /* The restored claims are still held. */
  cr_assert_eq(create("x", "tcp://127.0.0.1:22", "tcp://:2222", false,
                      T0 + 400, NULL),
               WEFT_EADDRINUSE);
  device_max = 1; /* the restored lease counts against its device */
  cr_assert_eq(create("live", "tcp://127.0.0.1:22", NULL, false, T0 + 400,
                      NULL),
               WEFT_EEXIST);
  device_max = 64;
  int events = 0;
  store->ops->audit_each(store, NULL, 100, count_audit, &events);
  cr_assert_eq(events, 3, "created x2, idle-timeout");
}

Test(leases, the_store_refuses_duplicates_itself)
{
  struct lease *l;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", "tcp://:2222", true, T0, &l),
               0);
  struct lease *twin = lease_dup(l);
  free(twin->tunnel_id);
  twin->tunnel_id = strdup("tother");
  cr_assert_eq(store->ops->lease_insert(store, twin), WEFT_EEXIST,
               "same address and port (a device may hold several)");
  free(twin->device_id);
  twin->device_id = strdup("b");
  cr_assert_eq(store->ops->lease_insert(store, twin), WEFT_EEXIST,
               "same address and port");
  lease_free(twin);
}

Test(leases, max_tunnels)
{
  close_all();
  unlink(path);
  cr_assert_eq(lease_config_from_text(&cfg, "10.1.0.0/16", "20000-29999",
                                      900000, 86400000, 300000, 2, why,
                                      sizeof why),
               0);
  open_all();
  cr_assert_eq(create("a", "tcp://127.0.0.1:1", NULL, false, T0, NULL), 0);
  cr_assert_eq(create("b", "tcp://127.0.0.1:1", NULL, false, T0, NULL), 0);
  cr_assert_eq(create("c", "tcp://127.0.0.1:1", NULL, false, T0, NULL),
               WEFT_ELIMIT);
  cr_assert(strstr(why, "maximum of 2 tunnels"));
}

static bool taken_20001(void *arg, const char *proto, uint16_t port)
{
  (void)arg;
  return !strcmp(proto, "tcp") && port == 20001;
}

/* A port another program holds is skipped, not handed out to fail. */
Test(leases, ports_other_programs_hold_are_skipped)
{
  ls.port_taken = taken_20001;
  struct lease *a, *b;
  cr_assert_eq(create("a", "tcp://127.0.0.1:22", NULL, false, T0, &a), 0);
  cr_assert_eq(create("b", "tcp://127.0.0.1:22", NULL, false, T0, &b), 0);
  cr_assert_eq(a->port, 20000);
  cr_assert_eq(b->port, 20002);
  cr_assert_eq(create("c", "tcp://127.0.0.1:22", NULL, false, T0, NULL),
               WEFT_ELIMIT, "%s", why);
  cr_assert(strstr(why, "no free tcp port"), "%s", why);
}
