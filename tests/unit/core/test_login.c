/* The login challenge: the happy path and every attack the tests name. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "auth/login.h"

static struct login_server *ls;
static struct secret secret, other_secret;

static void setup(void)
{
  ls = malloc(sizeof *ls);
  login_server_init(ls);
  crypto_random(secret.key, sizeof secret.key);
  crypto_random(other_secret.key, sizeof other_secret.key);
  clock_fake_set(1000000, 1700000000);
}

static void teardown(void)
{
  free(ls);
  clock_fake_off();
}

TestSuite(login, .init = setup, .fini = teardown);

struct exchange {
  uint8_t nc[LOGIN_NONCE_LEN], ns[LOGIN_NONCE_LEN];
  uint8_t proof[LOGIN_SEALED_LEN], answer[LOGIN_SEALED_LEN];
};

/* Steps 1-3 from `ip` with the client holding `client_secret`. */
static int start(struct exchange *x, const char *ip,
                 const struct secret *client_secret)
{
  uint64_t retry;
  crypto_random(x->nc, sizeof x->nc);
  int rc = login_server_challenge(ls, &secret, 0, ip, x->nc, NULL, 0, x->ns,
                                  x->proof, &retry);
  if (rc != LOGIN_OK)
    return rc;
  cr_assert_eq(login_client_answer(client_secret, x->nc, x->ns, NULL, 0,
                                   x->answer),
               0);
  return LOGIN_OK;
}

static int finish(struct exchange *x, const char *ip)
{
  uint64_t retry = 0;
  return login_server_verify(ls, &secret, 0, ip, x->ns, x->answer,
                             sizeof x->answer, NULL, 0, NULL, &retry);
}

Test(login, happy_path_both_sides_verified)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  cr_assert_eq(login_client_check_proof(&secret, x.nc, x.ns, NULL, 0, x.proof,
                                        sizeof x.proof),
               0, "client accepts the real server");
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_OK);
}

Test(login, client_detects_a_server_without_the_secret)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  cr_assert_neq(login_client_check_proof(&other_secret, x.nc, x.ns, NULL, 0,
                                         x.proof, sizeof x.proof),
                0);
  /* A fake server replaying an old proof for a new client nonce fails. */
  uint8_t fresh_nc[LOGIN_NONCE_LEN];
  crypto_random(fresh_nc, sizeof fresh_nc);
  cr_assert_neq(login_client_check_proof(&secret, fresh_nc, x.ns, NULL, 0,
                                         x.proof, sizeof x.proof),
                0);
}

Test(login, wrong_secret_is_denied)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &other_secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_DENIED);
}

Test(login, replayed_answer_is_denied)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_OK);
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_DENIED, "nonce is single use");
}

Test(login, reflected_server_proof_is_denied)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  memcpy(x.answer, x.proof, sizeof x.answer);
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_DENIED);
  /* Nor can a client's answer pass as a server's proof. */
  struct exchange y;
  cr_assert_eq(start(&y, "192.0.2.1", &secret), LOGIN_OK);
  cr_assert_neq(login_client_check_proof(&secret, y.nc, y.ns, NULL, 0,
                                         y.answer, sizeof y.answer),
                0);
}

Test(login, every_flipped_bit_is_denied)
{
  for (size_t bit = 0; bit < LOGIN_SEALED_LEN * 8; bit += 7) {
    struct exchange x;
    cr_assert_eq(start(&x, "192.0.2.9", &secret), LOGIN_OK);
    x.answer[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    cr_assert_eq(finish(&x, "192.0.2.9"), LOGIN_DENIED, "bit %zu", bit);
    login_server_init(ls); /* forget the failures: this is not the rate test */
  }
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.9", &secret), LOGIN_OK);
  uint64_t retry;
  cr_assert_eq(login_server_verify(ls, &secret, 0, "192.0.2.9", x.ns, x.answer,
                                   sizeof x.answer - 1, NULL, 0, NULL, &retry),
               LOGIN_DENIED, "truncated");
}

Test(login, expired_nonce_is_denied)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  clock_fake_advance_ms(LOGIN_NONCE_TTL_MS + 1);
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_DENIED);
}

Test(login, unknown_nonce_and_other_address_are_denied)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "192.0.2.2"), LOGIN_DENIED, "answer from elsewhere");
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  x.ns[0] ^= 1;
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_DENIED);
}

Test(login, secret_of_another_bound_address_is_denied)
{
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  uint64_t retry;
  /* Same secret bytes, but the answer arrives at the address with id 1. */
  cr_assert_eq(login_server_verify(ls, &secret, 1, "192.0.2.1", x.ns, x.answer,
                                   sizeof x.answer, NULL, 0, NULL, &retry),
               LOGIN_DENIED);
}

Test(login, tls_channel_binding_defeats_a_relay)
{
  /* A relaying man in the middle terminates TLS twice: the client's binding
   * (its TLS session with the relay) differs from the server's. */
  uint8_t client_binding[32], server_binding[32];
  crypto_random(client_binding, 32);
  crypto_random(server_binding, 32);
  uint8_t nc[LOGIN_NONCE_LEN], ns[LOGIN_NONCE_LEN];
  uint8_t proof[LOGIN_SEALED_LEN], answer[LOGIN_SEALED_LEN];
  uint64_t retry;
  crypto_random(nc, sizeof nc);
  cr_assert_eq(login_server_challenge(ls, &secret, 0, "192.0.2.1", nc,
                                      server_binding, 32, ns, proof, &retry),
               LOGIN_OK);
  cr_assert_neq(login_client_check_proof(&secret, nc, ns, client_binding, 32,
                                         proof, sizeof proof),
                0, "the client notices");
  cr_assert_eq(login_client_answer(&secret, nc, ns, client_binding, 32,
                                   answer),
               0);
  cr_assert_eq(login_server_verify(ls, &secret, 0, "192.0.2.1", ns, answer,
                                   sizeof answer, server_binding, 32, NULL, &retry),
               LOGIN_DENIED, "and so does the server");
  /* With the same binding on both ends it works. */
  cr_assert_eq(login_server_challenge(ls, &secret, 0, "192.0.2.1", nc,
                                      server_binding, 32, ns, proof, &retry),
               LOGIN_OK);
  cr_assert_eq(login_client_check_proof(&secret, nc, ns, server_binding, 32,
                                        proof, sizeof proof),
               0);
  login_client_answer(&secret, nc, ns, server_binding, 32, answer);
  cr_assert_eq(login_server_verify(ls, &secret, 0, "192.0.2.1", ns, answer,
                                   sizeof answer, server_binding, 32, NULL, &retry),
               LOGIN_OK);
}

Test(login, failures_are_rate_limited_per_address_with_backoff)
{
  struct exchange x;
  for (int i = 0; i < LOGIN_FREE_FAILURES; i++) {
    cr_assert_eq(start(&x, "198.51.100.7", &other_secret), LOGIN_OK);
    cr_assert_eq(finish(&x, "198.51.100.7"), LOGIN_DENIED);
  }
  /* The sixth failure starts a 1 s backoff. */
  cr_assert_eq(start(&x, "198.51.100.7", &other_secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "198.51.100.7"), LOGIN_DENIED);
  uint64_t retry = 0;
  uint8_t nc[LOGIN_NONCE_LEN] = {0}, ns[LOGIN_NONCE_LEN], proof[LOGIN_SEALED_LEN];
  cr_assert_eq(login_server_challenge(ls, &secret, 0, "198.51.100.7", nc, NULL,
                                      0, ns, proof, &retry),
               LOGIN_RATE_LIMITED);
  cr_assert_eq(retry, 1000);
  /* Someone else logs in meanwhile. */
  cr_assert_eq(start(&x, "203.0.113.5", &secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "203.0.113.5"), LOGIN_OK);
  /* After the backoff: one more failure doubles it. */
  clock_fake_advance_ms(1000);
  cr_assert_eq(start(&x, "198.51.100.7", &other_secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "198.51.100.7"), LOGIN_DENIED);
  cr_assert_eq(login_server_challenge(ls, &secret, 0, "198.51.100.7", nc, NULL,
                                      0, ns, proof, &retry),
               LOGIN_RATE_LIMITED);
  cr_assert_eq(retry, 2000);
  /* Even the right secret waits out the backoff... */
  clock_fake_advance_ms(2000);
  cr_assert_eq(start(&x, "198.51.100.7", &secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "198.51.100.7"), LOGIN_OK);
  /* ...and success clears the record. */
  cr_assert_eq(start(&x, "198.51.100.7", &other_secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "198.51.100.7"), LOGIN_DENIED);
  cr_assert_eq(start(&x, "198.51.100.7", &secret), LOGIN_OK);
}

Test(login, backoff_is_capped)
{
  struct exchange x;
  uint64_t retry = 0;
  for (int i = 0; i < 40; i++) {
    cr_assert_eq(start(&x, "198.51.100.8", &other_secret), LOGIN_OK);
    finish(&x, "198.51.100.8");
    if (login_server_blocked(ls, "198.51.100.8", &retry))
      clock_fake_advance_ms(retry);
  }
  cr_assert_eq(retry, LOGIN_BACKOFF_MAX_MS);
}

Test(login, one_source_cannot_fill_the_nonce_table)
{
  uint8_t nc[LOGIN_NONCE_LEN] = {0}, ns[LOGIN_NONCE_LEN];
  uint8_t proof[LOGIN_SEALED_LEN];
  uint64_t retry;
  for (int i = 0; i < LOGIN_PENDING_PER_SOURCE; i++)
    cr_assert_eq(login_server_challenge(ls, &secret, 0, "192.0.2.66", nc, NULL,
                                        0, ns, proof, &retry),
                 LOGIN_OK);
  cr_assert_eq(login_server_challenge(ls, &secret, 0, "192.0.2.66", nc, NULL,
                                      0, ns, proof, &retry),
               LOGIN_RATE_LIMITED);
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.67", &secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "192.0.2.67"), LOGIN_OK);
}

Test(login, an_ipv6_64_is_one_source_and_a_48_has_a_cap)
{
  uint8_t nc[LOGIN_NONCE_LEN] = {0}, ns[LOGIN_NONCE_LEN];
  uint8_t proof[LOGIN_SEALED_LEN];
  uint64_t retry;
  char ip[64];
  /* Other addresses of one /64 share its limit. */
  for (int i = 0; i < LOGIN_PENDING_PER_SOURCE; i++) {
    snprintf(ip, sizeof ip, "2001:db8:1:1::%x", i + 1);
    cr_assert_eq(login_server_challenge(ls, &secret, 0, ip, nc, NULL, 0, ns,
                                        proof, &retry),
                 LOGIN_OK);
  }
  cr_assert_eq(login_server_challenge(ls, &secret, 0, "2001:db8:1:1::ffff", nc,
                                      NULL, 0, ns, proof, &retry),
               LOGIN_RATE_LIMITED);
  /* Other /64s of the /48 fill it up to its own cap. */
  int granted = LOGIN_PENDING_PER_SOURCE;
  for (int net = 2; net < 2 * LOGIN_PENDING_PER_NET48; net++) {
    snprintf(ip, sizeof ip, "2001:db8:1:%x::1", net);
    if (login_server_challenge(ls, &secret, 0, ip, nc, NULL, 0, ns, proof,
                               &retry) == LOGIN_OK)
      granted++;
  }
  cr_assert_eq(granted, LOGIN_PENDING_PER_NET48);
  /* Another /48 is not held back. */
  struct exchange x;
  cr_assert_eq(start(&x, "2001:db8:2::1", &secret), LOGIN_OK);
  cr_assert_eq(finish(&x, "2001:db8:2::1"), LOGIN_OK);
}

Test(login, unanswered_challenges_count_as_failures)
{
  uint8_t nc[LOGIN_NONCE_LEN] = {0}, ns[LOGIN_NONCE_LEN];
  uint8_t proof[LOGIN_SEALED_LEN];
  uint64_t retry = 0;
  for (int i = 0; i <= LOGIN_FREE_FAILURES; i++)
    cr_assert_eq(login_server_challenge(ls, &secret, 0, "192.0.2.70", nc, NULL,
                                        0, ns, proof, &retry),
                 LOGIN_OK);
  clock_fake_advance_ms(LOGIN_NONCE_TTL_MS);
  /* The next challenge finds them expired: past the free failures. */
  cr_assert_eq(login_server_challenge(ls, &secret, 0, "192.0.2.70", nc, NULL,
                                      0, ns, proof, &retry),
               LOGIN_RATE_LIMITED);
  cr_assert_gt(retry, 0);
}

Test(login, a_full_table_evicts_the_biggest_holder_not_a_fresh_login)
{
  uint8_t nc[LOGIN_NONCE_LEN] = {0}, ns[LOGIN_NONCE_LEN];
  uint8_t proof[LOGIN_SEALED_LEN];
  uint64_t retry;
  char ip[46];
  /* 64 sources hold 16 each: the table is full. */
  for (int i = 0; i < LOGIN_PENDING_MAX; i++) {
    snprintf(ip, sizeof ip, "10.0.0.%d", i / LOGIN_PENDING_PER_SOURCE + 1);
    cr_assert_eq(login_server_challenge(ls, &secret, 0, ip, nc, NULL, 0, ns,
                                        proof, &retry),
                 LOGIN_OK);
  }
  /* A legitimate login begins, the flood goes on from fresh sources
   * (each one evicts), and the login still completes. */
  struct exchange x;
  cr_assert_eq(start(&x, "192.0.2.1", &secret), LOGIN_OK);
  for (int i = 0; i < 2 * LOGIN_PENDING_MAX; i++) {
    snprintf(ip, sizeof ip, "10.1.%d.%d", i / 250, i % 250);
    cr_assert_eq(login_server_challenge(ls, &secret, 0, ip, nc, NULL, 0, ns,
                                        proof, &retry),
                 LOGIN_OK);
    if (i == LOGIN_PENDING_MAX / 2)
      break; /* while others still hold more than one */
  }
  cr_assert_eq(finish(&x, "192.0.2.1"), LOGIN_OK);
}
