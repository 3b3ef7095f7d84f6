/* Logging to stderr: one line per event, level and origin first. */
#ifndef WEFT_CORE_LOG_H
#define WEFT_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/host.h>

void log_set_level(enum weft_log_level max_level);
enum weft_log_level log_get_level(void);

/* Include a UTC timestamp in each line (daemons); off for the CLI. */
void log_set_timestamps(int on);

/* text: "TIME weft: LEVEL: [ORIGIN] message"; json: one object per line,
 * {"time","level","origin","msg"} (docs/configuration.md#logs). */
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
void log_set_format(enum log_format format);
/* "text" or "json" into *format; -1 for anything else. */
int log_format_parse(const char *name, enum log_format *format);

/* When stderr is the journal's stream (systemd sets JOURNAL_STREAM to its
 * device:inode), text lines start with "<N>", the syslog priority, so
 * journalctl -p filters them. Called once at a daemon's start. */
void log_detect_journal(void);

/* origin: "core", a plugin's name, a tunnel's name... */
void log_msg(enum weft_log_level level, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum weft_log_level level, const char *origin, const char *fmt,
              va_list ap);

/* For a warning an attacker can repeat at will: the first in each window
 * is logged, the rest only counted, and said with the next one logged.
 * log_limited returns true when the caller should log now, with *missed
 * the number suppressed since the last line. */
struct log_limit {
  uint64_t window_ms;  /* e.g. 10000 */
  uint64_t window_end; /* clock ms: before it, lines are only counted */
  unsigned missed;
};
bool log_limited(struct log_limit *l, uint64_t now_ms, unsigned *missed);

#define log_error(...) log_msg(WEFT_LOG_ERROR, "core", __VA_ARGS__)
#define log_warn(...) log_msg(WEFT_LOG_WARN, "core", __VA_ARGS__)
#define log_info(...) log_msg(WEFT_LOG_INFO, "core", __VA_ARGS__)
#define log_debug(...) log_msg(WEFT_LOG_DEBUG, "core", __VA_ARGS__)

#endif
