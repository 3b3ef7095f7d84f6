/* Formats a message into a caller's error buffer and returns -1, so a
 * parser can say `return errorf(err, errlen, "...", ...);`. */
#ifndef WEFT_CORE_ERRORF_H
#define WEFT_CORE_ERRORF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

__attribute__((format(printf, 3, 4))) static inline int
errorf(char *err, size_t errlen, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

#endif
