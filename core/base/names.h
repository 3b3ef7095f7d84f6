/* Names users and devices give things (device ids, tunnel names): letters,
 * digits, '.', '_' and '-', so they are safe in file names, URLs and
 * logs. */
#ifndef WEFT_CORE_NAMES_H
#define WEFT_CORE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* 1..max characters of [A-Za-z0-9._-]. */
bool name_is_plain(const char *s, size_t max);

/* The same, and safe as a file name or argument: not starting with '.'
 * or '-'. */
bool name_is_file_safe(const char *s, size_t max);

#endif
