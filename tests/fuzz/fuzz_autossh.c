/* The autossh plugin's parsers on arbitrary input: authorized_keys lines
 * (the server reads its file back at start), public key lines (from
 * devices), and bastion destinations (from weft.conf). A line that parses
 * must format back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/autossh/akeys.h"
#include "../../plugins/autossh/keys.h"
#include "../../plugins/autossh/ssh_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *line = malloc(size + 1);
  if (!line)
    return 0;
  memcpy(line, data, size);
  line[size] = '\0';
  struct akey k;
  if (akeys_parse(line, &k) == 0) {
    char again[8192];
    if (akeys_format(&k, again, sizeof again) != 0)
      abort(); /* what we read back we must be able to write */
    again[strcspn(again, "\n")] = '\0';
    struct akey k2;
    if (akeys_parse(again, &k2) != 0 || strcmp(k.key, k2.key) ||
        strcmp(k.tunnel_id, k2.tunnel_id) || k.forward_port != k2.forward_port)
      abort();
  }
  char out[2200], why[256], user[64], host[256];
  if (keys_public_line(line, out, sizeof out, why, sizeof why) == 0 &&
      (strchr(out, '\n') || strchr(out, '"') || strchr(out, ',')))
    abort(); /* nothing that could add options or lines */
  if (ssh_split_destination(line, user, sizeof user, host, sizeof host, why,
                            sizeof why) == 0 &&
      (host[0] == '-' || user[0] == '-' || strchr(host, ' ')))
    abort();
  free(line);
  return 0;
}
