/* libFuzzer target: an enrollment string (auth/enrollment.h), as a device
 * reads one it was handed. A string that parses formats back to itself
 * (one spelling per enrollment), and one that does not says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/enrollment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct enrollment e;
  char err[256] = "", again[ENROLL_TEXT_MAX + 1];
  if (enrollment_parse((const char *)data, size, &e, err, sizeof err) != 0) {
    if (!err[0])
      abort();
    return 0;
  }
  if (!e.device_id[0] || !e.port || strlen(e.pin) != 52)
    abort();
  /* (a host may be spelled more than one way; the rest round-trips) */
  if (enrollment_format(&e, again, sizeof again) != 0)
    abort();
  struct enrollment f;
  if (enrollment_parse(again, strlen(again), &f, err, sizeof err) != 0 ||
      memcmp(e.token, f.token, sizeof e.token) || strcmp(e.pin, f.pin) ||
      strcmp(e.device_id, f.device_id) || e.port != f.port)
    abort();
  return 0;
}
