/* The consent flow's bookkeeping: one waiting request per device, a bound
 * on them all, expiry of what nobody decided or collected, and who counts
 * as an administrator. */
#include <criterion/criterion.h>
#include <string.h>

#include "tunnel/approvals.h"

Test(approvals, one_waiting_request_per_device)
{
  struct approvals a = {0};
  char why[256];
  json_t *req = json_pack("{s:s}", "local", "tcp://127.0.0.1:22");
  struct approval *first = approvals_add(&a, "dev", req, "192.0.2.1", "", 1000, why, sizeof why);
  cr_assert_not_null(first);
  cr_assert_eq(first->id[0], 'a');
  cr_assert_eq(strlen(first->id), 17);
  cr_assert_null(approvals_add(&a, "dev", req, "192.0.2.1", "", 1001, why, sizeof why));
  cr_assert(strstr(why, first->id), "%s", why);
  struct approval *other = approvals_add(&a, "dev2", req, "192.0.2.1", "", 1001, why, sizeof why);
  cr_assert_not_null(other);
  cr_assert_str_neq(first->id, other->id);
  cr_assert_eq(approvals_find(&a, first->id), first);
  /* decided: the device may ask again */
  first->state = APPROVAL_DENIED;
  first->decided_at = 1002;
  cr_assert_not_null(approvals_add(&a, "dev", req, "192.0.2.1", "", 1003, why, sizeof why));
  json_decref(req);
  approvals_free(&a);
  cr_assert_eq(a.count, 0);
}

Test(approvals, bounded)
{
  struct approvals a = {0};
  char why[256], dev[32];
  json_t *req = json_object();
  for (int i = 0; i < APPROVALS_MAX; i++) {
    snprintf(dev, sizeof dev, "d%d", i);
    cr_assert_not_null(approvals_add(&a, dev, req, "192.0.2.1", "", 1000, why, sizeof why));
  }
  cr_assert_null(approvals_add(&a, "one-more", req, "192.0.2.1", "", 1000, why, sizeof why));
  cr_assert(strstr(why, "wait"), "%s", why);
  json_decref(req);
  approvals_free(&a);
}

Test(approvals, expiry)
{
  struct approvals a = {0};
  char why[256];
  json_t *req = json_object();
  struct approval *waiting = approvals_add(&a, "w", req, "192.0.2.1", "", 1000, why, sizeof why);
  struct approval *decided = approvals_add(&a, "d", req, "192.0.2.1", "", 1000, why, sizeof why);
  decided->state = APPROVAL_APPROVED;
  decided->decided_at = 1000 + APPROVAL_WAIT_S;
  char id_w[24], id_d[24];
  strcpy(id_w, waiting->id);
  strcpy(id_d, decided->id);
  approvals_expire(&a, 1000 + APPROVAL_WAIT_S - 1);
  cr_assert_eq(a.count, 2);
  approvals_expire(&a, 1000 + APPROVAL_WAIT_S);
  cr_assert_null(approvals_find(&a, id_w), "a request nobody decided expires");
  cr_assert_not_null(approvals_find(&a, id_d), "a fresh decision stays");
  approvals_expire(&a, 1000 + APPROVAL_WAIT_S + APPROVAL_KEEP_S);
  cr_assert_null(approvals_find(&a, id_d), "an uncollected decision goes");
  json_decref(req);
  approvals_free(&a);
}

Test(approvals, json_shows_the_tunnel_to_its_device_only)
{
  struct approvals a = {0};
  char why[256];
  json_t *req = json_object();
  struct approval *ap = approvals_add(&a, "d", req, "192.0.2.1", "", 1000, why, sizeof why);
  ap->state = APPROVAL_APPROVED;
  ap->tunnel = json_pack("{s:s}", "token", "secret-ish");
  json_t *admin_view = approval_to_json(ap, 1001, 0);
  json_t *device_view = approval_to_json(ap, 1001, 1);
  cr_assert_null(json_object_get(admin_view, "tunnel"));
  cr_assert_not_null(json_object_get(device_view, "tunnel"));
  cr_assert_str_eq(json_string_value(json_object_get(admin_view, "state")),
                   "approved");
  json_decref(admin_view);
  json_decref(device_view);
  json_decref(req);
  approvals_free(&a);
}

Test(approvals, administrators)
{
  cr_assert(approvals_is_admin("admin", "admin"));
  cr_assert(approvals_is_admin("ops, security", "security"));
  cr_assert(approvals_is_admin(" ops ,security", "ops"));
  cr_assert_not(approvals_is_admin("ops, security", "op"));
  cr_assert_not(approvals_is_admin("ops, security", "ops,"));
  cr_assert_not(approvals_is_admin("", "admin"));
  cr_assert_not(approvals_is_admin(NULL, "admin"));
}

Test(approvals, a_code_both_sides_read_the_same_and_another_for_another)
{
  struct approvals a = {0};
  char why[256];
  json_t *req = json_pack("{s:s}", "local", "tcp://127.0.0.1:22");
  json_t *other = json_pack("{s:s}", "local", "tcp://127.0.0.1:23");
  struct approval *one =
      approvals_add(&a, "dev", req, "192.0.2.1", "ab12-cd34", 1000, why,
                    sizeof why);
  struct approval *two =
      approvals_add(&a, "dev2", other, "192.0.2.1", "", 1000, why, sizeof why);
  cr_assert_not_null(one);
  cr_assert_not_null(two);
  cr_assert_eq(strlen(one->code), 7);
  cr_assert_eq(one->code[3], '-');
  cr_assert_str_neq(one->code, two->code);
  json_t *seen = approval_to_json(one, 1000, 0);
  cr_assert_str_eq(json_string_value(json_object_get(seen, "code")),
                   one->code);
  cr_assert_str_eq(json_string_value(json_object_get(seen, "from")),
                   "192.0.2.1");
  cr_assert_str_eq(
      json_string_value(json_object_get(seen, "key_fingerprint")),
      "ab12-cd34");
  json_decref(seen);
  json_decref(req);
  json_decref(other);
  approvals_free(&a);
}
