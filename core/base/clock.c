#include "base/clock.h"

#include <stdbool.h>
#include <time.h>

static bool fake;
static uint64_t fake_mono_ms;
static int64_t fake_wall_ms;

uint64_t clock_mono_ms(void)
{
  if (fake)
    return fake_mono_ms;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t clock_wall_s(void)
{
  if (fake)
    return fake_wall_ms / 1000;
  return (int64_t)time(NULL);
}

void clock_fake_set(uint64_t mono_ms, int64_t wall_s)
{
  fake = true;
  fake_mono_ms = mono_ms;
  fake_wall_ms = wall_s * 1000;
}

void clock_fake_advance_ms(uint64_t ms)
{
  fake_mono_ms += ms;
  fake_wall_ms += (int64_t)ms;
}

void clock_fake_off(void) { fake = false; }
