/* Weft SDK umbrella header: everything a transport plugin may include. */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <weft/errors.h>
#include <weft/host.h>
#include <weft/http.h>
#include <weft/options.h>
#include <weft/plugin.h>
#include <weft/reconnect.h>
#include <weft/stream.h>

#endif /* WEFT_WEFT_H */
