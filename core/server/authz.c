#include "server/authz.h"

#include <stdio.h>
#include <string.h>

#define ANYONE_SIGNED_IN (AUTHZ_DEVICE | AUTHZ_VIEWER)
#define WATCHERS AUTHZ_VIEWER

const struct authz_rule authz_rules[] = {
    {"GET", "/v1/tunnels", ANYONE_SIGNED_IN, "list tunnels"},
    {"POST", "/v1/tunnels", AUTHZ_DEVICE, "open a tunnel (devices do)"},
    {"GET", "/v1/tunnels/*", ANYONE_SIGNED_IN, "see a tunnel"},
    {"DELETE", "/v1/tunnels/*", AUTHZ_DEVICE | AUTHZ_OPERATOR,
     "end a tunnel"},
    {"POST", "/v1/tunnels/*/token", AUTHZ_DEVICE,
     "renew a tunnel's token (its device does)"},
    /* A visitor's requests are the device owner's: not for viewers. */
    {"PUT", "/v1/tunnels/*/inspect", AUTHZ_OPERATOR,
     "turn a tunnel's HTTP inspector on or off"},
    {"GET", "/v1/tunnels/*/requests", AUTHZ_OPERATOR,
     "read a tunnel's inspected requests"},
    {"GET", "/v1/tunnels/*/requests/*", AUTHZ_OPERATOR,
     "read a tunnel's inspected requests"},
    {"POST", "/v1/tunnels/*/requests/*/replay", AUTHZ_OPERATOR,
     "replay an inspected request"},
    {"GET", "/v1/approvals", ANYONE_SIGNED_IN, "list approval requests"},
    {"GET", "/v1/approvals/*", ANYONE_SIGNED_IN, "see an approval request"},
    {"DELETE", "/v1/approvals/*", AUTHZ_DEVICE | AUTHZ_ADMIN,
     "withdraw an approval request"},
    {"POST", "/v1/approvals/*/approve", AUTHZ_ADMIN, "approve a request"},
    {"POST", "/v1/approvals/*/deny", AUTHZ_ADMIN, "deny a request"},
    {"GET", "/v1/devices", WATCHERS, "list devices"},
    {"POST", "/v1/devices", AUTHZ_ADMIN, "enroll devices"},
    {"GET", "/v1/devices/*", WATCHERS, "see a device"},
    {"PATCH", "/v1/devices/*", AUTHZ_OPERATOR, "change a device's ACL"},
    {"GET", "/v1/devices/*/terminal", AUTHZ_OPERATOR,
     "open a terminal to a device"},
    {"POST", "/v1/devices/*/revoke", AUTHZ_ADMIN, "revoke a device"},
    {"DELETE", "/v1/devices/*/key", AUTHZ_ADMIN, "free a device id"},
    {"PUT", "/v1/devices/*/key", AUTHZ_DEVICE,
     "rotate a device's key (the device does)"},
    {"GET", "/v1/audit", ANYONE_SIGNED_IN, "read the audit trail"},
    {"GET", "/v1/events", WATCHERS, "follow changes (GET /v1/events)"},
    {"GET", "/v1/users", AUTHZ_ADMIN, "list users"},
    {"POST", "/v1/users", AUTHZ_ADMIN, "add users"},
    {"DELETE", "/v1/users/*", AUTHZ_ADMIN, "remove users"},
    {"POST", "/v1/users/*/key", AUTHZ_ADMIN, "give a user a new key"},
    /* A user's own, or anyone's by an administrator (the handler). */
    {"PUT", "/v1/users/*/password", AUTHZ_VIEWER, "set a user's password"},
    {"POST", "/v1/users/*/totp", AUTHZ_VIEWER, "turn a user's TOTP on"},
    {"DELETE", "/v1/users/*/totp", AUTHZ_VIEWER, "turn a user's TOTP off"},
    {"POST", "/v1/users/*/totp/confirm", AUTHZ_VIEWER,
     "confirm a user's new TOTP secret"},
};
const unsigned authz_rule_count = sizeof authz_rules / sizeof authz_rules[0];

/* Whether path (up to its query) matches pattern, segment by segment. */
static bool path_matches(const char *pattern, const char *path)
{
  size_t len = strcspn(path, "?#");
  const char *end = path + len;
  while (*pattern && path < end) {
    if (*pattern == '*') {
      const char *seg = path;
      while (path < end && *path != '/')
        path++;
      if (path == seg)
        return false; /* an empty segment is no id */
      pattern++;
      continue;
    }
    if (*pattern++ != *path++)
      return false;
  }
  return !*pattern && path == end;
}

const struct authz_rule *authz_find(const char *method, const char *path,
                                    char *allow, unsigned allow_len)
{
  const struct authz_rule *found = NULL;
  size_t used = 0;
  allow[0] = '\0';
  for (unsigned i = 0; i < authz_rule_count; i++) {
    const struct authz_rule *r = &authz_rules[i];
    if (!path_matches(r->path, path))
      continue;
    if (!strcmp(r->method, method))
      found = r;
    int n = snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "",
                     r->method);
    if (n > 0 && used + (size_t)n < allow_len)
      used += (size_t)n;
  }
  return found;
}

bool authz_allows(const struct authz_rule *rule, const struct principal *who)
{
  if (who->kind == PRINCIPAL_DEVICE && (rule->who & AUTHZ_DEVICE))
    return true;
  switch (who->role) {
  case ROLE_ADMIN:
    return rule->who & (AUTHZ_ADMIN | AUTHZ_OPERATOR | AUTHZ_VIEWER);
  case ROLE_OPERATOR:
    return rule->who & (AUTHZ_OPERATOR | AUTHZ_VIEWER);
  case ROLE_VIEWER:
    return rule->who & AUTHZ_VIEWER;
  case ROLE_NONE:
    break;
  }
  return false;
}

const char *authz_role_name(enum role role)
{
  switch (role) {
  case ROLE_ADMIN:
    return "admin";
  case ROLE_OPERATOR:
    return "operator";
  case ROLE_VIEWER:
    return "viewer";
  case ROLE_NONE:
    break;
  }
  return "none";
}

enum role authz_role_parse(const char *text)
{
  for (enum role r = ROLE_VIEWER; r <= ROLE_ADMIN; r++)
    if (!strcmp(text, authz_role_name(r)))
      return r;
  return ROLE_NONE;
}

bool authz_is_device(const struct principal *who, const char *device_id)
{
  return who->kind == PRINCIPAL_DEVICE && device_id &&
         !strcmp(who->name, device_id);
}
