#include "base/log.h"

#include <stdio.h>
#include <time.h>

static enum weft_log_level max_level = WEFT_LOG_INFO;
static int with_timestamps;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_level(enum weft_log_level level) { max_level = level; }
enum weft_log_level log_get_level(void) { return max_level; }
void log_set_timestamps(int on) { with_timestamps = on; }

void log_vmsg(enum weft_log_level level, const char *origin, const char *fmt,
              va_list ap)
{
  if (level > max_level || level < WEFT_LOG_ERROR)
    return;
  /* Build the line first so concurrent writers (child processes sharing
   * stderr) never interleave inside one line. */
  char line[2048];
  int n = 0;
  if (with_timestamps) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
  }
  n += snprintf(line + n, sizeof line - (size_t)n, "weft: %s: [%s] ",
                level_names[level], origin ? origin : "core");
  int start = n;
  if (n < (int)sizeof line)
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  if (n >= (int)sizeof line - 1)
    n = (int)sizeof line - 2;
  /* One record, one line: text from a peer or a child process (ssh's
   * stderr, a device id) can neither break a record nor forge one. */
  for (int i = start; i < n; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c == '\n' || c == '\r')
      line[i] = ' ';
    else if (c < 0x20 && c != '\t')
      line[i] = '?';
  }
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, stderr);
  fflush(stderr);
}

bool log_limited(struct log_limit *l, uint64_t now_ms, unsigned *missed)
{
  if (now_ms < l->window_end) {
    l->missed++;
    return false;
  }
  *missed = l->missed;
  l->missed = 0;
  l->window_end = now_ms + l->window_ms;
  return true;
}

void log_msg(enum weft_log_level level, const char *origin, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, origin, fmt, ap);
  va_end(ap);
}
