/* libFuzzer target: the UDP messages of the websocket transport, both ways.
 * A device's answers are read against a server flow table holding a few
 * peers; a server's datagrams are parsed as the device parses them. What
 * parses must survive a round trip through the server's framing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/udp.h"
#include "fake_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t framed[UDP_HEADER_MAX + UDP_MAX_PAYLOAD];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const struct weft_host *h = fake_host();
  struct udp_server *u = udp_server_new(h, 4, 60000);
  if (!u)
    return 0;
  /* Five peers in a table of four: the first is evicted. */
  static const char *const ips[] = {"192.0.2.1", "2001:db8::7", "192.0.2.2",
                                    "::ffff:192.0.2.3", "192.0.2.4"};
  for (int i = 0; i < 5; i++) {
    struct weft_udp_peer p = {.port = (uint16_t)(1000 + i)};
    snprintf(p.ip, sizeof p.ip, "%s", ips[i]);
    udp_server_encode(u, &p, "x", 1, framed);
  }
  const uint8_t *payload;
  size_t n;
  udp_server_decode(u, data, size, &payload, &n);

  uint32_t id;
  struct weft_udp_peer peer;
  if (udp_parse_datagram(data, size, &id, &peer, &payload, &n) == 0) {
    size_t len = udp_server_encode(u, &peer, payload, n, framed);
    struct weft_udp_peer again;
    const uint8_t *p2;
    size_t n2;
    if (!len ||
        udp_parse_datagram(framed, len, &id, &again, &p2, &n2) != 0 ||
        again.port != peer.port || n2 != n || memcmp(p2, payload, n) != 0)
      abort(); /* the framing does not round-trip */
  }
  udp_server_free(u);
  return 0;
}
