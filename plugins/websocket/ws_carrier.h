/* The WebSocket carrier for plugins/common/session.c. */
#ifndef WEFT_WS_CARRIER_H
#define WEFT_WS_CARRIER_H

#include "carrier.h"

extern const struct carrier_ops ws_carrier;

#endif
