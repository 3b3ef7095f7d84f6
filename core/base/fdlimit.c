#include "base/fdlimit.h"

#include <sys/resource.h>

long fdlimit_raise(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -1;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      return -1;
  }
  return (long)rl.rlim_cur;
}
