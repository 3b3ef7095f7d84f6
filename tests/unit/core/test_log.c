#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

/* Logs through a stderr redirected to a temporary file and returns what
 * was written (static buffer). */
static const char *logged(enum log_format format,
                          void (*emit)(void))
{
  static char out[16384];
  char path[] = "/tmp/weft-log-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  log_set_format(format);
  emit();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  log_set_format(LOG_FORMAT_TEXT);
  ssize_t n = pread(fd, out, sizeof out - 1, 0);
  cr_assert(n >= 0);
  out[n] = '\0';
  close(fd);
  unlink(path);
  return out;
}

static void emit_hostile(void)
{
  /* a peer's bytes: a newline that would forge a record, quotes, a
   * backslash, a control byte and a byte that is not UTF-8 */
  log_msg(WEFT_LOG_WARN, "websocket", "device said \"%s\"",
          "a\nweft: error: [core] forged \\ \x01 \xff end");
  log_msg(WEFT_LOG_DEBUG, "core", "not logged at info");
  log_msg(WEFT_LOG_INFO, NULL, "caf\xc3\xa9");
}

Test(log, json_one_object_per_line_whatever_the_message)
{
  log_set_level(WEFT_LOG_INFO);
  const char *out = logged(LOG_FORMAT_JSON, emit_hostile);
  const char *nl = strchr(out, '\n');
  cr_assert_not_null(nl);
  cr_assert_not_null(strchr(nl + 1, '\n'));
  cr_assert_null(strchr(strchr(nl + 1, '\n') + 1, '\n'), "%s", out);

  json_error_t e;
  json_t *rec = json_loadb(out, (size_t)(nl - out), 0, &e);
  cr_assert_not_null(rec, "%s: %s", e.text, out);
  cr_assert_str_eq(json_string_value(json_object_get(rec, "level")),
                   "warning");
  cr_assert_str_eq(json_string_value(json_object_get(rec, "origin")),
                   "websocket");
  const char *msg = json_string_value(json_object_get(rec, "msg"));
  cr_assert_not_null(msg);
  cr_assert_str_eq(msg, "device said \"a weft: error: [core] forged \\ ? ? "
                        "end\"");
  const char *when = json_string_value(json_object_get(rec, "time"));
  cr_assert_not_null(when);
  /* 2026-12-07T12:00:00.123Z */
  cr_assert_eq(strlen(when), 24, "%s", when);
  cr_assert_eq(when[19], '.');
  cr_assert_eq(when[23], 'Z');
  json_decref(rec);

  rec = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &e);
  cr_assert_not_null(rec, "%s", e.text);
  cr_assert_str_eq(json_string_value(json_object_get(rec, "origin")), "core");
  cr_assert_str_eq(json_string_value(json_object_get(rec, "msg")),
                   "caf\xc3\xa9", "UTF-8 is kept");
  json_decref(rec);
}

static void emit_info(void) { log_msg(WEFT_LOG_INFO, "core", "hello"); }

Test(log, text_lines_keep_their_form)
{
  log_set_level(WEFT_LOG_INFO);
  log_set_timestamps(0);
  cr_assert_str_eq(logged(LOG_FORMAT_TEXT, emit_info),
                   "weft: info: [core] hello\n");
}

Test(log, journal_priority_prefix_only_on_the_journal_stream)
{
  log_set_level(WEFT_LOG_INFO);
  log_set_timestamps(0);
  char path[] = "/tmp/weft-log-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  struct stat st;
  cr_assert_eq(fstat(fd, &st), 0);
  char js[64];
  snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
           (unsigned long long)st.st_ino);
  int saved = dup(2);
  dup2(fd, 2);
  setenv("JOURNAL_STREAM", js, 1);
  log_detect_journal();
  log_msg(WEFT_LOG_ERROR, "core", "bad");
  setenv("JOURNAL_STREAM", "1:2", 1); /* another stream: no prefix */
  log_detect_journal();
  log_msg(WEFT_LOG_ERROR, "core", "plain");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  unsetenv("JOURNAL_STREAM");
  log_detect_journal();
  char out[256];
  ssize_t n = pread(fd, out, sizeof out - 1, 0);
  cr_assert(n > 0);
  out[n] = '\0';
  close(fd);
  unlink(path);
  cr_assert_str_eq(out, "<3>weft: error: [core] bad\n"
                        "weft: error: [core] plain\n");
}

Test(log, format_names)
{
  enum log_format f;
  cr_assert_eq(log_format_parse("json", &f), 0);
  cr_assert_eq(f, LOG_FORMAT_JSON);
  cr_assert_eq(log_format_parse("text", &f), 0);
  cr_assert_eq(f, LOG_FORMAT_TEXT);
  cr_assert_eq(log_format_parse("JSON", &f), -1);
  cr_assert_eq(log_format_parse("", &f), -1);
}
