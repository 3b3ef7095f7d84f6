/* RFC 6455 frame headers (section 5.2) and masking, for the one frame the
 * session sends and reads nearly always: a whole binary message in one
 * final frame. wslay frames and checks everything else (see ws_conn.c for
 * why this one is done here). */
#ifndef WEFT_WS_FRAME_H
#define WEFT_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_FRAME_HEAD_MAX 14 /* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_FINAL_BINARY 0x82 /* FIN, no RSV bits, opcode 2 */

struct ws_frame_head {
  uint8_t first;   /* FIN, RSV and opcode, as sent */
  bool masked;
  uint8_t key[4];  /* when masked */
  uint64_t len;    /* payload length */
};

/* Reads a frame header from p: its size in bytes, or 0 while p[0..n)
 * holds only part of it. */
size_t ws_frame_head_read(const uint8_t *p, size_t n, struct ws_frame_head *h);

/* Writes the header of a final binary frame of len bytes, masked with key
 * unless key is NULL; returns its size. */
size_t ws_frame_head_write(uint8_t out[WS_FRAME_HEAD_MAX], uint64_t len,
                           const uint8_t *key);

/* dst = src XOR the mask, for the n payload bytes that begin at offset
 * off of the payload. dst may be src. */
void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n,
                  const uint8_t key[4], uint64_t off);

#endif
