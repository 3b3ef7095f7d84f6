/* Who may do what on the control API: one table, read by one check in
 * control_api.c before any handler runs (docs/security.md prints it).
 *
 * A caller is a principal: a device (logged in with the secret and its
 * key), a user (an API key, with a role), or the server's own host over
 * the local socket (an administrator). Roles grow: a viewer reads, an
 * operator also ends tunnels, an administrator does everything. A device
 * acts only on what is its own (its tunnels, approvals and audit events);
 * handlers narrow what it sees to that. */
#ifndef WEFT_SERVER_AUTHZ_H
#define WEFT_SERVER_AUTHZ_H

#include <stdbool.h>

enum principal_kind { PRINCIPAL_DEVICE, PRINCIPAL_USER, PRINCIPAL_LOCAL };

enum role { ROLE_NONE, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };

struct principal {
  enum principal_kind kind;
  /* A user's role; for a device, ROLE_NONE, or ROLE_ADMIN when [server]
   * admins names it and it calls from the server's host (the older way
   * to administer, kept for existing set-ups). */
  enum role role;
  char name[64];  /* device id, user name, or "root" */
  char actor[72]; /* in the audit trail: the device id, "user:NAME",
                   * "local:root" */
  /* A user through a console session (a browser's cookie), not a key:
   * changing their own sign-in secrets asks for the current password,
   * since whoever sits at a signed-in browser is not proven the owner. */
  bool console;
};

/* Who a rule admits. */
#define AUTHZ_DEVICE 1u   /* a device, for what is its own */
#define AUTHZ_VIEWER 2u   /* viewers and every role above */
#define AUTHZ_OPERATOR 4u /* operators and administrators */
#define AUTHZ_ADMIN 8u    /* administrators */

struct authz_rule {
  const char *method;
  const char *path; /* "*" stands for one path segment */
  unsigned who;
  const char *what; /* for the refusal: "end tunnels" */
};

/* The rules, for the check, the docs and the tests. */
extern const struct authz_rule authz_rules[];
extern const unsigned authz_rule_count;

/* The rule for method and path (its query ignored), or NULL; *allow gets
 * the methods the path has ("" when the path is no route). */
const struct authz_rule *authz_find(const char *method, const char *path,
                                    char *allow, unsigned allow_len);

/* Whether who may use the rule's route. */
bool authz_allows(const struct authz_rule *rule, const struct principal *who);

/* "admin", "operator", "viewer" and back; ROLE_NONE for another word. */
const char *authz_role_name(enum role role);
enum role authz_role_parse(const char *text);

/* The device that is device_id itself (not a user, whatever its name). */
bool authz_is_device(const struct principal *who, const char *device_id);

#endif
