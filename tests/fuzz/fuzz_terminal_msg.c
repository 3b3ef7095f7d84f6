/* libFuzzer target: a console terminal's messages from the browser
 * (server/terminal_msg.h). Whatever comes, a message is refused with a
 * sentence or decoded within the bytes given, its sizes in range. */
#include <stdint.h>
#include <stdlib.h>

#include "server/terminal_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct terminal_msg m;
  const char *why = terminal_msg_decode(data, size, &m);
  if (why)
    return why[0] ? 0 : (abort(), 0);
  if (m.bytes && (m.bytes < data || m.bytes + m.len > data + size))
    abort();
  if ((m.type == TERMINAL_MSG_SIZE || m.type == TERMINAL_MSG_START) &&
      (m.cols < 1 || m.cols > 1000 || m.rows < 1 || m.rows > 1000))
    abort();
  if (m.type == TERMINAL_MSG_START && m.len > TERMINAL_CSRF_MAX)
    abort();
  return 0;
}
