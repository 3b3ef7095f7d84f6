/* The core's clock. Everything that expires (nonces, tokens, leases, idle
 * timers) reads time here, so tests can move time instead of sleeping. */
#ifndef WEFT_CORE_CLOCK_H
#define WEFT_CORE_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds (arbitrary origin). */
uint64_t clock_mono_ms(void);
/* Wall-clock seconds since the Unix epoch (for expiry stored on disk). */
int64_t clock_wall_s(void);

/* Tests only: freeze both clocks at the given values; advance them with
 * clock_fake_advance_ms. clock_fake_off() returns to the real clocks. */
void clock_fake_set(uint64_t mono_ms, int64_t wall_s);
void clock_fake_advance_ms(uint64_t ms);
void clock_fake_off(void);

#endif
