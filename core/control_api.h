/* The control API's request router (HTTP/JSON on the control port). */
#ifndef WEFT_CORE_CONTROL_API_H
#define WEFT_CORE_CONTROL_API_H

#include "http_server.h"

struct control_api {
  const char *version;
};

/* An http_handler_fn; data is a struct control_api. */
void control_api_handle(void *data, const struct http_request *req,
                        struct http_response *resp);

#endif
