/* libFuzzer target: everything the ACME client reads from a CA, fed the
 * same bytes as each kind of answer (directory, order, authorization,
 * problem document, response header line, PEM chain), and as a request
 * path to the HTTP-01 answer table. What a parser accepts must hold what
 * the flow relies on (https URLs, valid tokens, bounded counts). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_challenges.h"
#include "acme/acme_jws.h"
#include "acme/acme_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
  if (!ok)
    abort();
}

static int is_https(const char *url)
{
  return strncmp(url, "https://", 8) == 0 && strlen(url) <= ACME_URL_MAX;
}

static void fuzz_json(const char *text, size_t size)
{
  char err[256];
  struct acme_directory dir;
  if (acme_parse_directory(text, size, &dir, err, sizeof err) == 0)
    require(is_https(dir.new_nonce) && is_https(dir.new_account) &&
            is_https(dir.new_order));
  struct acme_order order;
  if (acme_parse_order(text, size, &order, err, sizeof err) == 0) {
    require(order.n_authz >= 1 && order.n_authz <= ACME_MAX_AUTHZ &&
            order.status != ACME_STATUS_UNKNOWN && is_https(order.finalize));
    for (size_t i = 0; i < order.n_authz; i++)
      require(is_https(order.authz[i]));
    require(!order.certificate[0] || is_https(order.certificate));
  }
  struct acme_authz authz;
  if (acme_parse_authz(text, size, &authz, err, sizeof err) == 0 &&
      authz.has_http01) {
    require(acme_token_valid(authz.http01_token) &&
            is_https(authz.http01_url));
    char keyauth[ACME_KEYAUTH_MAX + 1];
    require(acme_key_authorization(authz.http01_token,
                                   "0123456789012345678901234567890123456789abc",
                                   keyauth, sizeof keyauth) == 0);
  }
  struct acme_problem problem;
  char text_out[600];
  if (acme_parse_problem(text, size, &problem) == 0)
    acme_problem_text(&problem, text_out, sizeof text_out);
}

static void fuzz_header(const char *text, size_t size)
{
  struct acme_headers h;
  memset(&h, 0, sizeof h);
  acme_parse_header(text, size, &h);
  require(!h.location[0] || is_https(h.location));
  require(strlen(h.nonce) <= ACME_NONCE_MAX);
}

static void fuzz_chain(const char *text, size_t size)
{
  static EVP_PKEY *key;
  if (!key)
    key = acme_key_new();
  char *out = NULL, err[256];
  size_t outlen = 0;
  if (acme_chain_pem(text, size, key, "app.example.test", &out, &outlen, err,
                     sizeof err) == 0)
    require(outlen > 0 && out);
  free(out);
}

/* The table answers exactly the paths of what it holds: a fixed entry,
 * and the input itself while it is published. */
static void fuzz_answer(const char *text)
{
  static int ready;
  if (!ready) {
    require(acme_challenges_put("tok_-42", "tok_-42.thumb") == 0);
    ready = 1;
  }
  char out[ACME_KEYAUTH_MAX + 1];
  if (acme_challenges_answer(text, out, sizeof out) == 0)
    require(strcmp(text, ACME_CHALLENGE_PREFIX "tok_-42") == 0 &&
            strcmp(out, "tok_-42.thumb") == 0);
  if (!acme_token_valid(text) || strcmp(text, "tok_-42") == 0)
    return;
  char keyauth[ACME_KEYAUTH_MAX + 1], path[ACME_TOKEN_MAX + 64];
  snprintf(keyauth, sizeof keyauth, "%s.thumb", text);
  snprintf(path, sizeof path, ACME_CHALLENGE_PREFIX "%s", text);
  require(acme_challenges_put(text, keyauth) == 0);
  require(acme_challenges_answer(path, out, sizeof out) == 0 &&
          strcmp(out, keyauth) == 0);
  acme_challenges_withdraw(text);
  require(acme_challenges_answer(path, out, sizeof out) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* A NUL-terminated copy: the parsers take lengths, the table C strings. */
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  fuzz_json(text, size);
  fuzz_header(text, size);
  fuzz_chain(text, size);
  fuzz_answer(text);
  require(!acme_name_valid(text) || strlen(text) <= ACME_NAME_MAX);
  free(text);
  return 0;
}
