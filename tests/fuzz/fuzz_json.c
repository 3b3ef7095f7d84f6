/* libFuzzer target: JSON request bodies for POST /v1/tunnels (with a valid
 * session) and POST /v1/login; the first byte picks the endpoint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > 64 * 1024)
    return 0;
  char auth[4200];
  snprintf(auth, sizeof auth, "Bearer %s", harness_session());
  char *body = malloc(size);
  if (!body)
    return 0;
  memcpy(body, data + 1, size - 1);
  body[size - 1] = '\0';
  struct http_request req = {
      .method = "POST",
      .url = (char *)(data[0] & 1 ? "/v1/login" : "/v1/tunnels"),
      .body = body,
      .body_len = size - 1,
  };
  req.headers[0].name = (char *)"authorization";
  req.headers[0].value = auth;
  req.header_count = 1;
  harness_handle(&req);
  /* Keep the device able to create again: drop what this input made. */
  struct control_api *api = harness_api();
  while (api->tunnels->live)
    tunnel_service_delete(api->tunnels, api->tunnels->live->lease->tunnel_id,
                          "deleted", "server", "fuzz");
  free(body);
  return 0;
}
