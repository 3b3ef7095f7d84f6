/* HTTP/2 straight over the device's (TLS) stream, for session.c. */
#ifndef WEFT_VHOST_H2_CARRIER_H
#define WEFT_VHOST_H2_CARRIER_H

#include "carrier.h"

extern const struct carrier_ops h2_carrier;

#endif
