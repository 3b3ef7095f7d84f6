#include "base/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static enum weft_log_level max_level = WEFT_LOG_INFO;
static int with_timestamps;
static enum log_format format = LOG_FORMAT_TEXT;
static int journal; /* stderr is the journal: "<N>" priority prefixes */

static const char *const level_names[] = {"error", "warning", "info", "debug"};
/* syslog priorities: err, warning, info, debug */
static const int level_priority[] = {3, 4, 6, 7};

void log_set_level(enum weft_log_level level) { max_level = level; }
enum weft_log_level log_get_level(void) { return max_level; }
void log_set_timestamps(int on) { with_timestamps = on; }
void log_set_format(enum log_format f) { format = f; }

int log_format_parse(const char *name, enum log_format *f)
{
  if (!strcmp(name, "text"))
    *f = LOG_FORMAT_TEXT;
  else if (!strcmp(name, "json"))
    *f = LOG_FORMAT_JSON;
  else
    return -1;
  return 0;
}

void log_detect_journal(void)
{
  const char *js = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;
  journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
            fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
            (unsigned long long)st.st_ino == ino;
}

/* One record, one line: text from a peer or a child process (ssh's
 * stderr, a device id) can neither break a record nor forge one. */
static void flatten(char *text, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '\n' || c == '\r')
      text[i] = ' ';
    else if (c < 0x20 && c != '\t')
      text[i] = '?';
  }
}

/* The JSON record; jansson escapes. A message that is not UTF-8 (a
 * peer's bytes) has its non-ASCII bytes replaced rather than lost. */
static size_t json_record(char *out, size_t size, const char *when,
                          const char *level, const char *origin, char *msg,
                          size_t msglen)
{
  json_t *m = json_stringn(msg, msglen);
  if (!m) {
    for (size_t i = 0; i < msglen; i++)
      if ((unsigned char)msg[i] >= 0x80)
        msg[i] = '?';
    m = json_stringn(msg, msglen);
  }
  json_t *rec = json_pack("{s:s,s:s,s:s?,s:o?}", "time", when, "level",
                          level, "origin", origin, "msg", m);
  size_t n = rec ? json_dumpb(rec, out, size - 1, JSON_COMPACT) : 0;
  json_decref(rec);
  if (n == 0 || n > size - 1) /* cannot happen short of memory; say so */
    n = (size_t)snprintf(out, size - 1,
                         "{\"time\":\"%s\",\"level\":\"error\","
                         "\"msg\":\"a log record could not be encoded\"}",
                         when);
  return n;
}

void log_vmsg(enum weft_log_level level, const char *origin, const char *fmt,
              va_list ap)
{
  if (level > max_level || level < WEFT_LOG_ERROR)
    return;
  if (!origin)
    origin = "core";
  /* Build the line first so concurrent writers (child processes sharing
   * stderr) never interleave inside one line. */
  char msg[2048];
  int len = vsnprintf(msg, sizeof msg, fmt, ap);
  size_t msglen = len < 0 ? 0 : (size_t)len < sizeof msg ? (size_t)len
                                                         : sizeof msg - 1;
  flatten(msg, msglen);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[40];
  char line[4096 + 64];
  size_t n;
  if (format == LOG_FORMAT_JSON) {
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);
    n = json_record(line, sizeof line, when, level_names[level], origin, msg,
                    msglen);
  } else {
    int k = journal ? snprintf(line, sizeof line, "<%d>",
                               level_priority[level])
                    : 0;
    if (with_timestamps)
      k += (int)strftime(line + k, sizeof line - (size_t)k,
                         "%Y-%m-%dT%H:%M:%SZ ", &tm);
    k += snprintf(line + k, sizeof line - (size_t)k, "weft: %s: [%s] %.*s",
                  level_names[level], origin, (int)msglen, msg);
    n = (size_t)k < sizeof line - 1 ? (size_t)k : sizeof line - 2;
  }
  line[n++] = '\n';
  fwrite(line, 1, n, stderr);
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
