/*
 * Capture aid for the perf stat parity goldens: an LD_PRELOAD shim that answers the
 * perf_event_open/read/ioctl/close calls of the real perf tool with fixed values, so the
 * tool prints its own rendering of known counts. Not part of vpmu; the goldens it made are
 * data under captured/, with the command that made each.
 *
 * VPMU_FAKE_SPEC names a file with one line per opened event, in open order:
 *   <value> <time_enabled> <time_running>   a counting event
 *   error                                   read() returns 0 bytes (an event in ERROR)
 *   errno <n>                               perf_event_open fails with errno n
 * With VPMU_FAKE_PER_CPU=1, open k takes line k mod the number of lines (perf opens every
 * event of one CPU, then the next CPU's), so each CPU of -C LIST counts the same.
 * CLOCK_MONOTONIC reads VPMU_FAKE_T0_NS on its first call and VPMU_FAKE_T0_NS +
 * VPMU_FAKE_ELAPSED_NS afterwards, so "seconds time elapsed" is fixed; wait4 reports a zero
 * rusage, so "seconds user/sys" are too.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_EV 256
#define MAX_FD 4096

struct spec { int kind; uint64_t value, ena, run; int err; };
struct fake { int used, idx, leader, nmem, mem[MAX_EV]; uint64_t read_format; };

static struct spec specs[MAX_EV];
static int nspecs = -1, nopened;
static struct fake fakes[MAX_FD];

static void load_specs(void) {
  if (nspecs >= 0) return;
  nspecs = 0;
  const char *p = getenv("VPMU_FAKE_SPEC");
  FILE *f = p ? fopen(p, "r") : NULL;
  char line[256];
  while (f && nspecs < MAX_EV && fgets(line, sizeof line, f)) {
    struct spec *s = &specs[nspecs];
    if (line[0] == '#' || line[0] == '\n') continue;
    if (!strncmp(line, "error", 5)) s->kind = 1;
    else if (sscanf(line, "errno %d", &s->err) == 1) s->kind = 2;
    else if (sscanf(line, "%lu %lu %lu", &s->value, &s->ena, &s->run) == 3) s->kind = 0;
    else continue;
    nspecs++;
  }
  if (f) fclose(f);
}

long syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (nr != SYS_perf_event_open) {
    static long (*real)(long, ...);
    if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  load_specs();
  struct perf_event_attr *attr = (struct perf_event_attr *)a[0];
  int group_fd = (int)a[3];
  if (getenv("VPMU_FAKE_LOG"))
    fprintf(stderr, "[fake] open #%d type=%u config=%#llx rf=%#llx cpu=%d group=%d\n", nopened,
            attr->type, (unsigned long long)attr->config,
            (unsigned long long)attr->read_format, (int)a[2], group_fd);
  int idx = nopened++;
  if (getenv("VPMU_FAKE_PER_CPU") && nspecs > 0) idx %= nspecs;
  if (idx < nspecs && specs[idx].kind == 2) {
    errno = specs[idx].err;
    return -1;
  }
  int fd = memfd_create("fake-perf", MFD_CLOEXEC);
  if (fd < 0 || fd >= MAX_FD) return -1;
  struct fake *e = &fakes[fd];
  memset(e, 0, sizeof *e);
  e->used = 1;
  e->idx = idx;
  e->read_format = attr->read_format;
  e->leader = group_fd >= 0 ? group_fd : fd;
  struct fake *l = &fakes[e->leader];
  l->mem[l->nmem++] = fd;
  return fd;
}

static struct spec *spec_of(int fd) {
  static struct spec none;
  int i = fakes[fd].idx;
  return i < nspecs ? &specs[i] : &none;
}

ssize_t read(int fd, void *buf, size_t n) {
  static ssize_t (*real)(int, void *, size_t);
  if (!real) real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
  if (fd < 0 || fd >= MAX_FD || !fakes[fd].used) return real(fd, buf, n);
  struct fake *e = &fakes[fd];
  struct spec *s = spec_of(fd);
  if (s->kind == 1) return 0;
  uint64_t out[3 + 3 * MAX_EV];
  int k = 0;
  uint64_t rf = e->read_format;
  if (rf & PERF_FORMAT_GROUP) {
    out[k++] = e->nmem;
    if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED) out[k++] = s->ena;
    if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING) out[k++] = s->run;
    for (int m = 0; m < e->nmem; m++) {
      out[k++] = spec_of(e->mem[m])->value;
      if (rf & PERF_FORMAT_ID) out[k++] = 1000 + e->mem[m];
    }
  } else {
    out[k++] = s->value;
    if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED) out[k++] = s->ena;
    if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING) out[k++] = s->run;
    if (rf & PERF_FORMAT_ID) out[k++] = 1000 + fd;
  }
  size_t bytes = (size_t)k * 8;
  if (n < bytes) {
    errno = ENOSPC;
    return -1;
  }
  memcpy(buf, out, bytes);
  return (ssize_t)bytes;
}

int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (fd >= 0 && fd < MAX_FD && fakes[fd].used) {
    if (req == PERF_EVENT_IOC_ID) *(uint64_t *)arg = 1000 + fd;
    return 0;
  }
  static int (*real)(int, unsigned long, void *);
  if (!real) real = (int (*)(int, unsigned long, void *))dlsym(RTLD_NEXT, "ioctl");
  return real(fd, req, arg);
}

int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "close");
  if (fd >= 0 && fd < MAX_FD) fakes[fd].used = 0;
  return real(fd);
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
  static int (*real)(clockid_t, struct timespec *);
  static int calls;
  if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  const char *t0s = getenv("VPMU_FAKE_T0_NS");
  if (clk != CLOCK_MONOTONIC || !t0s) return real(clk, ts);
  uint64_t t = strtoull(t0s, NULL, 10);
  if (calls++ > 0) t += strtoull(getenv("VPMU_FAKE_ELAPSED_NS") ?: "0", NULL, 10);
  ts->tv_sec = (time_t)(t / 1000000000ull);
  ts->tv_nsec = (long)(t % 1000000000ull);
  return 0;
}

pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
  static pid_t (*real)(pid_t, int *, int, struct rusage *);
  if (!real) real = (pid_t (*)(pid_t, int *, int, struct rusage *))dlsym(RTLD_NEXT, "wait4");
  pid_t r = real(pid, status, options, ru);
  if (ru && getenv("VPMU_FAKE_T0_NS")) memset(ru, 0, sizeof *ru);
  return r;
}
