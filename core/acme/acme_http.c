#include "acme/acme_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/errorf.h"
#include "version.h"

/* Not clock.c: its test-only fake clock is process state this worker
 * thread must not read while the loop thread may change it. */
static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t left_ms(const struct acme_http *h)
{
  uint64_t now = now_ms();
  return now < h->deadline_ms ? h->deadline_ms - now : 0;
}

static int timed_out(const struct acme_http *h, char *err, size_t errlen)
{
  return errorf(err, errlen, "timed out (the whole issuance may take %ld s)",
                h->limit_s);
}

int acme_http_open(struct acme_http *h, const char *ca_file, long timeout_s,
                   char *err, size_t errlen)
{
  memset(h, 0, sizeof *h);
  if (timeout_s <= 0 || timeout_s > 24 * 3600)
    return errorf(err, errlen, "the time limit must be 1..86400 s, not %ld",
                  timeout_s);
  h->curl = curl_easy_init();
  if (!h->curl)
    return errorf(err, errlen, "libcurl failed to start");
  h->ca_file = ca_file;
  h->limit_s = timeout_s;
  h->deadline_ms = now_ms() + (uint64_t)timeout_s * 1000u;
  return 0;
}

void acme_http_close(struct acme_http *h)
{
  if (h->curl)
    curl_easy_cleanup(h->curl);
  h->curl = NULL;
}

void acme_reply_free(struct acme_reply *r)
{
  free(r->body);
  memset(r, 0, sizeof *r);
}

struct transfer {
  struct acme_reply *r;
  bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
  struct transfer *t = arg;
  struct acme_reply *r = t->r;
  size_t add = size * n;
  if (add > ACME_BODY_MAX - r->len) {
    t->too_big = true;
    return 0; /* aborts the transfer */
  }
  char *body = realloc(r->body, r->len + add + 1);
  if (!body)
    return 0;
  memcpy(body + r->len, data, add);
  r->body = body;
  r->len += add;
  r->body[r->len] = '\0';
  return add;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
  struct transfer *t = arg;
  acme_parse_header(line, size * n, &t->r->h);
  return size * n;
}

static struct curl_slist *request_headers(const char *jose, bool pem)
{
  struct curl_slist *list = NULL, *next;
  const char *lines[] = {
      "Expect:", /* no 100-continue round trip before a CSR */
      jose ? "Content-Type: application/jose+json" : NULL,
      pem ? "Accept: application/pem-certificate-chain" : NULL,
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    if (!lines[i])
      continue;
    if (!(next = curl_slist_append(list, lines[i]))) {
      curl_slist_free_all(list);
      return NULL;
    }
    list = next;
  }
  return list;
}

static void set_options(struct acme_http *h, const char *method,
                        const char *url, const char *jose, uint64_t left,
                        struct curl_slist *headers, struct transfer *t,
                        char *curl_err)
{
  CURL *c = h->curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "weft-acme/" WEFT_VERSION);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left); /* never 0: none */
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
  if (h->ca_file)
    curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  else if (jose) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, jose);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(jose));
  }
}

static void read_info(struct acme_http *h, struct acme_reply *r)
{
  curl_off_t after = 0;
  curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
  if (curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
      after > 0)
    r->retry_after_s = after > 86400 ? 86400 : (long)after;
  if (r->h.nonce[0])
    memcpy(h->nonce, r->h.nonce, sizeof h->nonce);
}

int acme_http_send(struct acme_http *h, const char *method, const char *url,
                   const char *jose, bool pem, struct acme_reply *r,
                   char *err, size_t errlen)
{
  memset(r, 0, sizeof *r);
  uint64_t left = left_ms(h);
  if (left == 0)
    return timed_out(h, err, errlen);
  struct curl_slist *headers = request_headers(jose, pem);
  if (!headers)
    return errorf(err, errlen, "out of memory");
  struct transfer t = {.r = r};
  char curl_err[CURL_ERROR_SIZE] = "";
  set_options(h, method, url, jose, left, headers, &t, curl_err);
  CURLcode rc = curl_easy_perform(h->curl);
  curl_slist_free_all(headers);
  if (rc == CURLE_OK) {
    read_info(h, r);
    return 0;
  }
  acme_reply_free(r);
  if (t.too_big)
    return errorf(err, errlen, "the answer is larger than %d bytes",
                  ACME_BODY_MAX);
  if (rc == CURLE_OPERATION_TIMEDOUT && left_ms(h) == 0)
    return timed_out(h, err, errlen);
  return errorf(err, errlen, "%s",
                curl_err[0] ? curl_err : curl_easy_strerror(rc));
}

int acme_http_wait(struct acme_http *h, uint64_t ms, char *err, size_t errlen)
{
  if (ms >= left_ms(h))
    return timed_out(h, err, errlen);
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                        .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  return 0;
}
