/* A new password for `weft user passwd`: typed twice at the terminal
 * without echo, or one line of standard input (--stdin, for scripts). */
#ifndef WEFT_CLI_PASSWORD_PROMPT_H
#define WEFT_CLI_PASSWORD_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

/* The password into out (at most len - 1 bytes, NUL-ended, without the
 * line break): 0, or -1 with a sentence in err (no terminal, the two
 * did not match, too long, nothing read). */
int password_prompt(const char *who, bool from_stdin, char *out, size_t len,
                    char *err, size_t errlen);

#endif
