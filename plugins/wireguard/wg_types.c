#include <stdlib.h>

#include "wg_types.h"

void wg_device_state_free(struct wg_device_state *state)
{
  free(state->peers);
  state->peers = NULL;
  state->peer_count = 0;
}
