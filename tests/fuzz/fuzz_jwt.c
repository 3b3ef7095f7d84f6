/* libFuzzer target: JWT verification (pinned HS256), both token kinds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct tokens t;
  static bool ready;
  if (!ready) {
    uint8_t key[32] = {1, 2, 3};
    tokens_init(&t, key);
    ready = true;
  }
  const char *tok = (const char *)data;
  static const struct jwt_expect expect = {
      .iss = "weft", .aud = "weft-control", .typ = "session", .leeway_s = 60};
  json_t *payload = NULL;
  int rc = jwt_verify(t.session_key, 32, tok, size, &expect, 1700000000,
                      &payload);
  if ((rc == JWT_OK) != (payload != NULL))
    abort();
  json_decref(payload);
  char sub[64];
  tokens_verify_session(&t, tok, size, NULL, 1700000000, sub, sizeof sub);
  struct orchestration_claims oc;
  tokens_verify_orchestration(&t, tok, size, "websocket", 1700000000, true,
                              &oc);
  return 0;
}
