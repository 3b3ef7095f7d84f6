/* A whole control API (login, tokens, leases on a real SQLite store, ACLs,
 * a compiled-in test transport) for the fuzz targets to drive. */
#ifndef WEFT_FUZZ_CONTROL_HARNESS_H
#define WEFT_FUZZ_CONTROL_HARNESS_H

#include "server/control_api.h"

/* Set up once per process; returns the API. */
struct control_api *harness_api(void);
/* A valid session JWT for device "fuzz-dev". */
const char *harness_session(void);
/* Runs one request through the API and discards the answer. */
void harness_handle(struct http_request *req);

#endif
