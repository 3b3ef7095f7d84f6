/* Session and orchestration tokens can never stand in for each other. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/tokens.h"

static struct tokens t;
static const uint8_t server_key[32] = "server key for the token tests.";
#define NOW 1700000000

static void setup(void) { cr_assert_eq(tokens_init(&t, server_key), 0); }
static void teardown(void) { tokens_free(&t); }
TestSuite(tokens, .init = setup, .fini = teardown);

static struct orchestration_claims claims(void)
{
  struct orchestration_claims c = {.port = 2222};
  strcpy(c.device_id, "dev-1");
  strcpy(c.tunnel_id, "t0011223344556677");
  strcpy(c.transport, "websocket");
  strcpy(c.proto, "tcp");
  return c;
}

Test(tokens, session_round_trip)
{
  char *tok, sub[64];
  cr_assert_eq(tokens_issue_session(&t, "dev-1", NULL, NOW, &tok), 0);
  cr_assert_eq(tokens_verify_session(&t, tok, strlen(tok), NULL, NOW + 1799,
                                     sub, sizeof sub),
               JWT_OK);
  cr_assert_str_eq(sub, "dev-1");
  cr_assert_eq(tokens_verify_session(&t, tok, strlen(tok), NULL,
                                     NOW + 1800 + 60, sub, sizeof sub),
               JWT_EEXPIRED);
  free(tok);
}

Test(tokens, per_ip_session_is_bound_to_its_address)
{
  char *tok, sub[64];
  cr_assert_eq(tokens_issue_session(&t, "dev-1", "192.0.2.1", NOW, &tok), 0);
  cr_assert_eq(tokens_verify_session(&t, tok, strlen(tok), "192.0.2.1", NOW,
                                     sub, sizeof sub),
               JWT_OK);
  cr_assert_eq(tokens_verify_session(&t, tok, strlen(tok), "192.0.2.2", NOW,
                                     sub, sizeof sub),
               JWT_ECLAIMS);
  cr_assert_eq(tokens_verify_session(&t, tok, strlen(tok), NULL, NOW, sub,
                                     sizeof sub),
               JWT_ECLAIMS);
  free(tok);
}

Test(tokens, orchestration_is_single_use_and_per_transport)
{
  struct orchestration_claims c = claims(), out;
  char *tok;
  cr_assert_eq(tokens_issue_orchestration(&t, &c, NOW, &tok), 0);
  cr_assert_eq(tokens_verify_orchestration(&t, tok, strlen(tok), "wireguard",
                                           NOW, true, &out),
               JWT_ECLAIMS, "another transport");
  cr_assert_eq(tokens_verify_orchestration(&t, tok, strlen(tok), "websocket",
                                           NOW, false, &out),
               JWT_OK, "a check without consuming");
  cr_assert_eq(tokens_verify_orchestration(&t, tok, strlen(tok), "websocket",
                                           NOW, true, &out),
               JWT_OK);
  cr_assert_str_eq(out.device_id, "dev-1");
  cr_assert_str_eq(out.tunnel_id, "t0011223344556677");
  cr_assert_eq(out.port, 2222);
  cr_assert_str_eq(out.proto, "tcp");
  cr_assert_eq(out.expires_at, NOW + ORCHESTRATION_TTL_S);
  cr_assert_eq(tokens_verify_orchestration(&t, tok, strlen(tok), "websocket",
                                           NOW, true, &out),
               JWT_ECLAIMS, "spent");
  free(tok);
  cr_assert_eq(tokens_issue_orchestration(&t, &c, NOW, &tok), 0);
  cr_assert_eq(tokens_verify_orchestration(&t, tok, strlen(tok), "websocket",
                                           NOW + ORCHESTRATION_TTL_S + 61,
                                           true, &out),
               JWT_EEXPIRED);
  free(tok);
}

Test(tokens, one_kind_never_passes_as_the_other)
{
  struct orchestration_claims c = claims(), out;
  char *orch, *session, sub[64];
  cr_assert_eq(tokens_issue_orchestration(&t, &c, NOW, &orch), 0);
  cr_assert_eq(tokens_issue_session(&t, "dev-1", NULL, NOW, &session), 0);
  cr_assert_eq(tokens_verify_session(&t, orch, strlen(orch), NULL, NOW, sub,
                                     sizeof sub),
               JWT_ESIGNATURE, "different key");
  cr_assert_eq(tokens_verify_orchestration(&t, session, strlen(session),
                                           "websocket", NOW, true, &out),
               JWT_ESIGNATURE);
  free(orch);
  free(session);
}

Test(tokens, another_servers_tokens_are_refused)
{
  struct tokens other;
  uint8_t key[32] = {9};
  tokens_init(&other, key);
  char *tok, sub[64];
  tokens_issue_session(&other, "dev-1", NULL, NOW, &tok);
  cr_assert_eq(tokens_verify_session(&t, tok, strlen(tok), NULL, NOW, sub,
                                     sizeof sub),
               JWT_ESIGNATURE);
  free(tok);
  tokens_free(&other);
}
