#include "base/names.h"

bool name_is_plain(const char *s, size_t max)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
          (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_' ||
          s[n] == '.'))
      return false;
  return n > 0 && n <= max;
}

bool name_is_file_safe(const char *s, size_t max)
{
  return name_is_plain(s, max) && s[0] != '.' && s[0] != '-';
}
