#include "cli/password_prompt.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/crypto.h"

/* One line from f into out without its line break: 0, -1 at end of input
 * or when the line does not fit (the rest of it is read and dropped). */
static int read_line(FILE *f, char *out, size_t len)
{
  if (!fgets(out, (int)len, f))
    return -1;
  size_t n = strlen(out);
  bool whole = n > 0 && out[n - 1] == '\n';
  if (!whole && !feof(f)) {
    int c;
    while ((c = fgetc(f)) != EOF && c != '\n')
      ;
    crypto_wipe(out, len);
    return -1;
  }
  out[strcspn(out, "\r\n")] = '\0';
  return 0;
}

/* Asks at the terminal tty (echo off) and reads the answer. */
static int ask(FILE *tty, const char *prompt, char *out, size_t len)
{
  struct termios was, quiet;
  int fd = fileno(tty);
  fprintf(tty, "%s", prompt);
  fflush(tty);
  bool restore = tcgetattr(fd, &was) == 0;
  if (restore) {
    quiet = was;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    tcsetattr(fd, TCSANOW, &quiet);
  }
  int rc = read_line(tty, out, len);
  if (restore)
    tcsetattr(fd, TCSANOW, &was);
  return rc;
}

int password_prompt(const char *who, bool from_stdin, char *out, size_t len,
                    char *err, size_t errlen)
{
  if (from_stdin) {
    if (read_line(stdin, out, len) == 0)
      return 0;
    snprintf(err, errlen, "read no password (one line, at most %zu bytes) "
                          "from standard input", len - 2);
    return -1;
  }
  FILE *tty = fopen("/dev/tty", "r+");
  if (!tty) {
    snprintf(err, errlen, "no terminal to type the password at: give it "
                          "on standard input with --stdin");
    return -1;
  }
  char again[1100];
  char prompt[128];
  snprintf(prompt, sizeof prompt, "New password for %s: ", who);
  int rc = -1;
  if (ask(tty, prompt, out, len) != 0)
    snprintf(err, errlen, "read no password (at most %zu bytes)", len - 2);
  else if (ask(tty, "Type it again: ", again, sizeof again) != 0 ||
           strcmp(out, again))
    snprintf(err, errlen, "the two passwords differ; nothing was changed");
  else
    rc = 0;
  crypto_wipe(again, sizeof again);
  if (rc)
    crypto_wipe(out, len);
  fclose(tty);
  return rc;
}
