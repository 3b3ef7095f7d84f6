/* libFuzzer target: the login messages themselves, server and client side:
 * answers and proofs of any length and content, against real challenges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "auth/login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct login_server *ls;
  static struct secret secret;
  if (!ls) {
    ls = calloc(1, sizeof *ls);
    memset(secret.key, 5, sizeof secret.key);
    clock_fake_set(1000, 1700000000);
  }
  clock_fake_advance_ms(LOGIN_NONCE_TTL_MS); /* every nonce is fresh */
  login_server_init(ls);
  uint8_t nc[LOGIN_NONCE_LEN] = {0}, ns[LOGIN_NONCE_LEN];
  uint8_t proof[LOGIN_SEALED_LEN];
  uint64_t retry;
  if (size >= LOGIN_NONCE_LEN)
    memcpy(nc, data, LOGIN_NONCE_LEN);
  if (login_server_challenge(ls, &secret, 0, "192.0.2.1", nc, NULL, 0, ns,
                             proof, &retry) != LOGIN_OK)
    abort();
  /* The input as the client's answer: it must never pass. */
  if (login_server_verify(ls, &secret, 0, "192.0.2.1", ns, data, size, NULL, 0,
                          NULL, &retry) == LOGIN_OK)
    abort();
  /* And as a server's proof for some nonce pair. */
  if (login_client_check_proof(&secret, nc, ns, data,
                               size > LOGIN_BINDING_MAX ? LOGIN_BINDING_MAX
                                                        : size,
                               data, size) == 0)
    abort();
  return 0;
}
