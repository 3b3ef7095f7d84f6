/* Logging to stderr: one line per event, level and origin first. */
#ifndef WEFT_CORE_LOG_H
#define WEFT_CORE_LOG_H

#include <stdarg.h>

#include <weft/host.h>

void log_set_level(enum weft_log_level max_level);
enum weft_log_level log_get_level(void);

/* Include a UTC timestamp in each line (daemons); off for the CLI. */
void log_set_timestamps(int on);

/* origin: "core", a plugin's name, a tunnel's name... */
void log_msg(enum weft_log_level level, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum weft_log_level level, const char *origin, const char *fmt,
              va_list ap);

#define log_error(...) log_msg(WEFT_LOG_ERROR, "core", __VA_ARGS__)
#define log_warn(...) log_msg(WEFT_LOG_WARN, "core", __VA_ARGS__)
#define log_info(...) log_msg(WEFT_LOG_INFO, "core", __VA_ARGS__)
#define log_debug(...) log_msg(WEFT_LOG_DEBUG, "core", __VA_ARGS__)

#endif
