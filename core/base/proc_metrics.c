#include "base/proc_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void tick(uv_timer_t *t)
{
  struct proc_metrics *pm = t->data;
  uint64_t now = uv_hrtime();
  double late = now > pm->due_ns ? (double)(now - pm->due_ns) / 1e9 : 0;
  prom_observe(&pm->lag, late);
  pm->due_ns = now + (uint64_t)PROC_LAG_INTERVAL_MS * 1000000;
}

/* When this process started: /proc/self/stat's field 22 (clock ticks
 * after boot) plus the boot time from /proc/stat. 0 when unknown. */
static double start_time(void)
{
  char buf[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  unsigned long long ticks = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                          "%*u %*u %*d %*d %*d %*d %*d %*d %llu",
                   &ticks) != 1)
    return 0;
  unsigned long long boot = 0;
  char line[256];
  f = fopen("/proc/stat", "r");
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "btime %llu", &boot) == 1)
      break;
  if (f)
    fclose(f);
  long hz = sysconf(_SC_CLK_TCK);
  return boot && hz > 0 ? (double)boot + (double)ticks / (double)hz : 0;
}

void proc_metrics_start(struct proc_metrics *pm, uv_loop_t *loop)
{
  memset(pm, 0, sizeof *pm);
  pm->start_time = start_time();
  pm->timer = malloc(sizeof *pm->timer);
  if (!pm->timer)
    return;
  uv_timer_init(loop, pm->timer);
  pm->timer->data = pm;
  uv_unref((uv_handle_t *)pm->timer);
  pm->due_ns = uv_hrtime() + (uint64_t)PROC_LAG_INTERVAL_MS * 1000000;
  uv_timer_start(pm->timer, tick, PROC_LAG_INTERVAL_MS, PROC_LAG_INTERVAL_MS);
}

static void timer_closed(uv_handle_t *h) { free(h); }

void proc_metrics_stop(struct proc_metrics *pm)
{
  if (pm->timer)
    uv_close((uv_handle_t *)pm->timer, timer_closed);
  pm->timer = NULL;
}

static long open_fds(void)
{
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own */
}

static long long rss_bytes(void)
{
  FILE *f = fopen("/proc/self/statm", "r");
  long long size = 0, resident = -1;
  if (f && fscanf(f, "%lld %lld", &size, &resident) != 2)
    resident = -1;
  if (f)
    fclose(f);
  return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

void proc_metrics_write(const struct proc_metrics *pm, const char *prefix,
                        struct strbuf *b)
{
  long fds = open_fds();
  if (fds >= 0) {
    prom_header(b, "process_open_fds", "gauge", "Open file descriptors.");
    strbuf_addf(b, "process_open_fds %ld\n", fds);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    prom_header(b, "process_max_fds", "gauge",
                "Open file descriptors at most (RLIMIT_NOFILE).");
    strbuf_addf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
  }
  long long rss = rss_bytes();
  if (rss >= 0) {
    prom_header(b, "process_resident_memory_bytes", "gauge",
                "Resident memory in bytes.");
    strbuf_addf(b, "process_resident_memory_bytes %lld\n", rss);
  }
  if (pm->start_time > 0) {
    prom_header(b, "process_start_time_seconds", "gauge",
                "When the process started, in seconds since the epoch.");
    strbuf_addf(b, "process_start_time_seconds %.2f\n", pm->start_time);
  }
  char name[96];
  snprintf(name, sizeof name, "%s_event_loop_lag_seconds", prefix);
  prom_header(b, name, "histogram",
              "How late a timer due every 500 ms fired: time the event loop "
              "spent on other work.");
  prom_histogram_write(b, name, "", &pm->lag);
}
