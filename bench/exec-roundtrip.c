/*
 * `npm run bench`: round trips through the vpmu exec preload shim. Times N perf_event_open
 * calls (each closed again) and N read() calls on one event, each with the real monotonic
 * clock (read through syscall(), which the shim passes to the kernel), and prints
 * "open_median_ns=..." and "read_median_ns=...".
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now(void) {
  struct timespec t;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000;
  uint64_t *t = calloc((size_t)n, sizeof *t);
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_HARDWARE;
  a.config = PERF_COUNT_HW_INSTRUCTIONS;
  a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  for (int i = 0; i < n; i++) {
    uint64_t t0 = now();
    long fd = syscall(SYS_perf_event_open, &a, -1, i % 8, -1, PERF_FLAG_FD_CLOEXEC);
    t[i] = now() - t0;
    if (fd < 0) return 1;
    close((int)fd);
  }
  qsort(t, (size_t)n, sizeof *t, cmp);
  printf("open_median_ns=%llu\n", (unsigned long long)t[n / 2]);
  long fd = syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  uint64_t buf[3];
  for (int i = 0; i < n; i++) {
    uint64_t t0 = now();
    if (read((int)fd, buf, sizeof buf) != 24) return 1;
    t[i] = now() - t0;
  }
  qsort(t, (size_t)n, sizeof *t, cmp);
  printf("read_median_ns=%llu\n", (unsigned long long)t[n / 2]);
  return 0;
}
