/* libFuzzer target: the WebSocket upgrade request, from raw bytes through
 * the core's HTTP reader to the websocket transport's checks. */
#include <stdint.h>
#include <string.h>

#include "../../plugins/websocket/ws_conn.h"
#include "http/http_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_request(void *arg, struct http_request *req, bool keep_alive)
{
  (void)arg, (void)keep_alive;
  struct weft_http_header headers[HTTP_MAX_HEADERS];
  for (size_t i = 0; i < req->header_count; i++)
    headers[i] = (struct weft_http_header){req->headers[i].name,
                                           req->headers[i].value};
  struct weft_http_request view = {
      .struct_size = sizeof view, .method = req->method, .target = req->url,
      .headers = headers, .header_count = req->header_count,
      .peer_ip = "192.0.2.1"};
  struct ws_upgrade up;
  const char *why = NULL;
  int status = ws_check_upgrade(&view, &up, &why);
  if (status && !why)
    __builtin_trap(); /* every refusal says why */
  /* (no token is the transport's refusal to make, not this check's) */
  if (!status && (strlen(up.key) != 24 || (up.token && !*up.token)))
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct http_limits limits;
  http_limits_default(&limits);
  struct http_reader r;
  http_reader_init(&r, &limits, NULL, on_request, NULL);
  size_t used;
  http_reader_feed(&r, (const char *)data, size, &used);
  http_reader_free(&r);
  return 0;
}
