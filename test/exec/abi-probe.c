/*
 * Test program for `vpmu exec`: makes perf_event_open(2)-shaped calls the way a C program
 * does and prints one "name=value" line per check (errno names for failures), so the test
 * can assert the kernel's answers through the preload shim. Run as:
 *   abi-probe checks        the ABI checks (x86-server preset)
 *   abi-probe after-exec FD read FD again after an exec that kept it (no CLOEXEC)
 *   abi-probe orphan FILE   outlive the command, then record what a call does without server
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "other";
  }
}

static long peo(void *attr, int pid, int cpu, int group, unsigned long flags) {
  return syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

static void res(const char *name, long r) {
  if (r < 0) printf("%s=%s\n", name, ename(errno));
  else printf("%s=%ld\n", name, r);
}

static int open_raw(uint64_t config, uint64_t rf, int cpu, int group, int disabled, int pinned) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_RAW;
  a.config = config;
  a.read_format = rf;
  a.disabled = disabled;
  a.pinned = pinned;
  return (int)peo(&a, -1, cpu, group, PERF_FLAG_FD_CLOEXEC);
}

static void msleep(int ms) {
  struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
  nanosleep(&t, NULL);
}

static uint64_t mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void checks(const char *self) {
  /* read_format layouts of a single event: 8 + 8 per flag (LOST, ID in the entry). */
  const uint64_t fmts[] = {0, PERF_FORMAT_TOTAL_TIME_ENABLED, PERF_FORMAT_TOTAL_TIME_RUNNING,
                           PERF_FORMAT_ID, 0x1f & ~PERF_FORMAT_GROUP};
  for (unsigned i = 0; i < sizeof fmts / sizeof *fmts; i++) {
    int fd = open_raw(0xc0, fmts[i], 0, -1, 0, 0);
    uint64_t buf[8];
    char name[32];
    snprintf(name, sizeof name, "read_rf%llu", (unsigned long long)fmts[i]);
    res(name, read(fd, buf, sizeof buf));
    close(fd);
  }

  /* A group: leader disabled, ENABLE with PERF_IOC_FLAG_GROUP, 5 ms, exact layout. */
  uint64_t grf = PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED |
                 PERF_FORMAT_TOTAL_TIME_RUNNING;
  int lead = open_raw(0xc0, grf, 1, -1, 1, 0);
  int m1 = open_raw(0x3c, grf, 1, lead, 0, 0);
  int m2 = open_raw(0xc4, grf, 1, lead, 0, 0);
  uint64_t id0 = 0, id2 = 0;
  res("ioctl_id", ioctl(lead, PERF_EVENT_IOC_ID, &id0));
  ioctl(m2, PERF_EVENT_IOC_ID, &id2);
  res("ioctl_enable_group", ioctl(lead, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP));
  uint64_t t0 = mono();
  msleep(5);
  printf("slept_ns=%llu\n", (unsigned long long)(mono() - t0));
  uint64_t g[16];
  res("group_read_short", read(lead, g, 71));
  res("group_read", read(lead, g, sizeof g));
  printf("group_nr=%llu ena=%llu run=%llu\n", (unsigned long long)g[0],
         (unsigned long long)g[1], (unsigned long long)g[2]);
  printf("group_id_match=%d\n", g[4] == id0 && g[8] == id2);
  printf("group_counting=%d\n", g[3] > 0 && g[5] > 0 && g[7] > 0);
  res("ioctl_disable", ioctl(lead, PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP));
  res("ioctl_reset", ioctl(lead, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP));
  read(lead, g, sizeof g);
  printf("after_reset=%llu\n", (unsigned long long)g[3]);

  /* ioctls the model has no state for, and bad arguments. */
  res("ioctl_notty", ioctl(lead, 0x5401 /* TCGETS */, g));
  res("ioctl_pause_output", ioctl(lead, PERF_EVENT_IOC_PAUSE_OUTPUT, 1));
  res("ioctl_set_filter", ioctl(lead, PERF_EVENT_IOC_SET_FILTER, "ip > 0"));
  res("ioctl_id_null", ioctl(lead, PERF_EVENT_IOC_ID, NULL));
  uint64_t period = 1000;
  res("ioctl_period_counting", ioctl(lead, PERF_EVENT_IOC_PERIOD, &period));
  /* The kernel compares the unsigned long with -1: an int -1 arrives as 0xffffffff. */
  res("ioctl_set_output_none", ioctl(lead, PERF_EVENT_IOC_SET_OUTPUT, (unsigned long)-1));
  res("ioctl_set_output_int_minus1", ioctl(lead, PERF_EVENT_IOC_SET_OUTPUT, -1));
  int pfd[2];
  if (pipe(pfd)) return;
  res("ioctl_set_output_pipe", ioctl(lead, PERF_EVENT_IOC_SET_OUTPUT, pfd[0]));
  res("group_fd_pipe", open_raw(0xc0, 0, 1, pfd[0], 0, 0));

  /* The attr size: E2BIG (with the kernel's size written back), VER0, zero tail, reserved. */
  unsigned char big[256];
  memset(big, 0, sizeof big);
  struct perf_event_attr *a = (struct perf_event_attr *)big;
  a->type = PERF_TYPE_RAW;
  a->config = 0xc0;
  a->size = 200;
  big[150] = 1;
  res("attr_tail_nonzero", peo(a, -1, 0, -1, 0));
  printf("attr_size_written=%u\n", a->size);
  big[150] = 0;
  a->size = 200;
  long ok = peo(a, -1, 0, -1, 0);
  res("attr_tail_zero", ok >= 0 ? 0 : -1);
  if (ok >= 0) close((int)ok);
  a->size = 32;
  res("attr_size_32", peo(a, -1, 0, -1, 0));
  a->size = 0;
  ok = peo(a, -1, 0, -1, 0);
  res("attr_size_0", ok >= 0 ? 0 : -1);
  if (ok >= 0) close((int)ok);
  a->size = 112; /* VER5 */
  ok = peo(a, -1, 0, -1, 0);
  res("attr_size_ver5", ok >= 0 ? 0 : -1);
  if (ok >= 0) close((int)ok);
  a->size = sizeof *a;
  uint64_t *flags = (uint64_t *)(big + 40);
  *flags = 1ull << 45; /* __reserved_1 */
  res("attr_reserved_bit", peo(a, -1, 0, -1, 0));
  *flags = 0;
  res("attr_bad_flags", peo(a, -1, 0, -1, 1ul << 10));
  res("attr_null", peo(NULL, -1, 0, -1, 0));

  /* Descriptors: dup, fcntl, CLOEXEC, poll, mmap, pread. */
  int fd = open_raw(0xc0, 0, 2, -1, 0, 0);
  int d = dup(fd);
  close(fd);
  uint64_t v;
  res("read_after_dup_close", read(d, &v, 8));
  int d2 = fcntl(d, F_DUPFD_CLOEXEC, 100);
  printf("fcntl_dupfd_ge_100=%d cloexec=%d\n", d2 >= 100, fcntl(d2, F_GETFD) & FD_CLOEXEC);
  close(d);
  res("read_dup2", read(d2, &v, 8));
  struct pollfd p = {.fd = d2, .events = POLLIN};
  res("poll", poll(&p, 1, 1000));
  printf("poll_revents_hup=%d\n", (p.revents & POLLHUP) != 0);
  void *map = mmap(NULL, 8192, PROT_READ, MAP_SHARED, d2, 0);
  res("mmap", map == MAP_FAILED ? -1 : 0);
  res("pread", pread(d2, &v, 8, 0));
  close(d2);
  res("read_closed", read(d2, &v, 8));

  /* fork: the child reads the inherited descriptor. */
  fd = open_raw(0xc0, 0, 2, -1, 0, 0);
  pid_t c = fork();
  if (c == 0) {
    uint64_t cv = 0;
    _exit(read(fd, &cv, 8) == 8 ? 0 : 1);
  }
  int st = 0;
  waitpid(c, &st, 0);
  printf("fork_child_read=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

  /* Pinned events beyond the counters: ERROR, read() returns 0 bytes. */
  int pinned[10];
  for (int i = 0; i < 9; i++) pinned[i] = open_raw(0xc4, 0, 3, -1, 0, 1);
  res("read_error_event", read(pinned[8], &v, 8));

  /* closefrom() closes perf fds and the shim's connection behind libc's back: the next
     descriptor with one of those numbers is a plain file, and the next call reconnects. */
  int low = open_raw(0xc0, 0, 2, -1, 0, 0);
  closefrom(low);
  int plain = open("/dev/zero", O_RDONLY);
  res("read_plain_after_closefrom", read(plain, &v, 8));
  res("open_after_closefrom", open_raw(0xc0, 0, 2, -1, 0, 0) >= 0 ? 0 : -1);
  close(plain);

  /* exec keeps a descriptor without CLOEXEC. */
  struct perf_event_attr k;
  memset(&k, 0, sizeof k);
  k.size = sizeof k;
  k.type = PERF_TYPE_RAW;
  k.config = 0xc0;
  int keep = (int)peo(&k, -1, 2, -1, 0);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    char arg[16];
    snprintf(arg, sizeof arg, "%d", keep);
    execl(self, self, "after-exec", arg, (char *)NULL);
    _exit(127);
  }
  waitpid(c, &st, 0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && !strcmp(argv[1], "checks")) {
    checks(argv[0]);
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "after-exec")) {
    uint64_t v;
    res("read_after_exec", read(atoi(argv[2]), &v, 8));
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "orphan")) {
    /* Wait (in model time) until the server is gone, then record what a call does. */
    struct perf_event_attr o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.type = PERF_TYPE_RAW;
    o.config = 0xc0;
    long r = 0;
    for (int i = 0; i < 100000; i++) {
      r = peo(&o, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
      if (r < 0) break;
      close((int)r);
      usleep(1000);
      if (r >= 0 && i > 50000) break;
    }
    FILE *f = fopen(argv[2], "w");
    if (f) {
      fprintf(f, "orphan=%s\n", r < 0 ? ename(errno) : "open");
      fclose(f);
    }
    return 0;
  }
  fprintf(stderr, "usage: abi-probe checks | after-exec FD | orphan FILE\n");
  return 2;
}
