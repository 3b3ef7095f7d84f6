/* Test helper for tests/shell/acme.sh: one acme_issue() against the pebble
 * the script started, with a tiny HTTP-01 responder on 127.0.0.1:PORT that
 * answers from the acme_challenges table the way the server's ingress will
 * (or answers wrongly, to see the CA refuse). Prints "issued NAME" and
 * exits 0, or "error: MESSAGE" and exits 1, then in both cases "published
 * N, withdrawn N, requests served N"; exits 2 for a usage or set-up
 * problem.
 *
 *   acme_helper --dir URL --ca FILE --account FILE --name NAME --cert FILE
 *               --key FILE [--email ADDR] [--http-port P] [--wrong]
 *               [--hang] [--timeout S]
 *
 * --hang replaces the directory URL with a local port that takes the TCP
 * connection and never answers, to see the overall time limit hold. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acme/acme.h"
#include "acme/acme_challenges.h"

struct responder {
  int fd;
  bool wrong;
  atomic_bool stop;
  atomic_int served;
  pthread_t thread;
};

static int listen_on(int port, int backlog)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, backlog)) {
    fprintf(stderr, "acme_helper: cannot listen on 127.0.0.1:%d: %s\n", port,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static int bound_port(int fd)
{
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin_port);
}

/* Reads the request head (bounded, 2 s) and gives the path of a GET. */
static bool read_path(int conn, char *path, size_t size)
{
  char buf[4096];
  size_t len = 0;
  struct timeval tv = {.tv_sec = 2};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (len + 1 < sizeof buf) {
    ssize_t n = recv(conn, buf + len, sizeof buf - 1 - len, 0);
    if (n <= 0)
      return false;
    len += (size_t)n;
    buf[len] = '\0';
    if (strstr(buf, "\r\n\r\n"))
      break;
  }
  char *sp = strchr(buf + 4, ' ');
  if (strncmp(buf, "GET ", 4) != 0 || !sp || (size_t)(sp - buf - 4) >= size)
    return false;
  memcpy(path, buf + 4, (size_t)(sp - buf - 4));
  path[sp - buf - 4] = '\0';
  return true;
}

static void answer(struct responder *r, int conn)
{
  char path[1024], body[512], head[256];
  int found = -1;
  if (read_path(conn, path, sizeof path)) {
    found = acme_challenges_answer(path, body, sizeof body);
    if (found == 0 && r->wrong)
      snprintf(body, sizeof body, "not-the-key-authorization");
  }
  if (found != 0)
    snprintf(body, sizeof body, "not found\n");
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   found == 0 ? "200 OK" : "404 Not Found", strlen(body));
  if (send(conn, head, (size_t)n, MSG_NOSIGNAL) == n)
    send(conn, body, strlen(body), MSG_NOSIGNAL);
  atomic_fetch_add(&r->served, 1);
}

static void *serve(void *arg)
{
  struct responder *r = arg;
  while (!atomic_load(&r->stop)) {
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0)
      continue;
    int conn = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
      continue;
    answer(r, conn);
    close(conn);
  }
  return NULL;
}

/* Wraps the table's sink to count what acme_issue publishes and withdraws
 * (the two must match whatever the outcome). */
static atomic_int published, withdrawn;

static int count_publish(void *arg, const char *token, const char *keyauth)
{
  (void)arg;
  atomic_fetch_add(&published, 1);
  return acme_challenges_sink.publish(acme_challenges_sink.arg, token,
                                      keyauth);
}

static void pass_withdraw(void *arg, const char *token)
{
  (void)arg;
  atomic_fetch_add(&withdrawn, 1);
  acme_challenges_sink.withdraw(acme_challenges_sink.arg, token);
}

static int usage(void)
{
  fprintf(stderr, "usage: acme_helper --dir URL --ca FILE --account FILE "
                  "--name NAME --cert FILE --key FILE [--email ADDR] "
                  "[--http-port P] [--wrong] [--hang] [--timeout S]\n");
  return 2;
}

int main(int argc, char **argv)
{
  static const struct option opts[] = {
      {"dir", 1, 0, 'd'},     {"ca", 1, 0, 'c'},        {"account", 1, 0, 'a'},
      {"name", 1, 0, 'n'},    {"cert", 1, 0, 'C'},      {"key", 1, 0, 'k'},
      {"email", 1, 0, 'e'},   {"http-port", 1, 0, 'p'}, {"wrong", 0, 0, 'w'},
      {"hang", 0, 0, 'h'},    {"timeout", 1, 0, 't'},   {0, 0, 0, 0},
  };
  struct acme_request req = {.timeout_s = 60};
  struct responder resp = {.fd = -1};
  int http_port = 0, opt;
  bool hang = false;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (opt) {
    case 'd': req.directory_url = optarg; break;
    case 'c': req.ca_file = optarg; break;
    case 'a': req.account_key_file = optarg; break;
    case 'n': req.hostname = optarg; break;
    case 'C': req.cert_file = optarg; break;
    case 'k': req.key_file = optarg; break;
    case 'e': req.email = optarg; break;
    case 'p': http_port = atoi(optarg); break;
    case 'w': resp.wrong = true; break;
    case 'h': hang = true; break;
    case 't': req.timeout_s = atol(optarg); break;
    default: return usage();
    }
  }
  if (optind != argc || !req.directory_url)
    return usage();
  char hang_url[64];
  int hang_fd = -1;
  if (hang) {
    /* A listener nobody accepts on: the kernel completes the handshake,
     * and the TLS ClientHello then waits forever. */
    if ((hang_fd = listen_on(0, 8)) < 0)
      return 2;
    snprintf(hang_url, sizeof hang_url, "https://127.0.0.1:%d/dir",
             bound_port(hang_fd));
    req.directory_url = hang_url;
  }
  if (http_port > 0) {
    if ((resp.fd = listen_on(http_port, 64)) < 0)
      return 2;
    if (pthread_create(&resp.thread, NULL, serve, &resp) != 0)
      return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct acme_challenge_sink sink = {count_publish, pass_withdraw,
                                           NULL};
  char err[1024] = "";
  int rc = acme_issue(&req, &sink, err, sizeof err);
  if (resp.fd >= 0) {
    atomic_store(&resp.stop, true);
    pthread_join(resp.thread, NULL);
    close(resp.fd);
  }
  if (hang_fd >= 0)
    close(hang_fd);
  curl_global_cleanup();
  if (rc == 0)
    printf("issued %s\n", req.hostname);
  else
    printf("error: %s\n", err);
  printf("published %d, withdrawn %d, requests served %d\n",
         atomic_load(&published), atomic_load(&withdrawn),
         atomic_load(&resp.served));
  return rc == 0 ? 0 : 1;
}
