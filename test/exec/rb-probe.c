/*
 * Test program for `vpmu exec`: maps the ring buffer of a model sampling event the way a C
 * program (or perf) does and prints one "name=value" line per check (errno names for
 * failures). Run on a scenario with a compute task pinned to CPU 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
#define SAMPLE_BYTES 48 /* header, ip, pid/tid, time, cpu, period */

static const char *ename(int e) {
  switch (e) {
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENODEV: return "ENODEV";
    case EPERM: return "EPERM";
    default: return "other";
  }
}

static void res(const char *name, long r) {
  if (r < 0) printf("%s=%s\n", name, ename(errno));
  else printf("%s=%ld\n", name, r);
}

static int open_sampling(uint64_t config, uint64_t period, int pid, int cpu, int inherit) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_HARDWARE;
  a.config = config;
  a.sample_period = period;
  a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
                  PERF_SAMPLE_PERIOD;
  a.disabled = 1;
  a.inherit = inherit;
  return (int)syscall(SYS_perf_event_open, &a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static void msleep(int ms) {
  struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
  nanosleep(&t, NULL);
}

static long maperr(void *p) {
  return p == MAP_FAILED ? -1 : 0;
}

static uint64_t count_of(int fd) {
  uint64_t v = 0;
  if (read(fd, &v, 8) != 8) return 0;
  return v;
}

int main(void) {
  int fd = open_sampling(PERF_COUNT_HW_CPU_CYCLES, 100000, -1, 1, 0);
  res("open", fd >= 0 ? 0 : -1);

  /* perf_mmap()'s checks (mmap(2) rounds the length up to pages first). */
  res("mmap_len0", maperr(mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0)));
  res("mmap_4pages", maperr(mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)));
  res("mmap_private", maperr(mmap(NULL, 9 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)));
  res("mmap_pgoff", maperr(mmap(NULL, 9 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG)));
  int inh = open_sampling(PERF_COUNT_HW_CPU_CYCLES, 100000, 0, -1, 1);
  res("mmap_inherit_task", maperr(mmap(NULL, 9 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, inh, 0)));
  close(inh);
  int one = open_sampling(PERF_COUNT_HW_CPU_CYCLES, 100000, -1, 1, 0);
  void *small = mmap(NULL, PG + 100, PROT_READ | PROT_WRITE, MAP_SHARED, one, 0);
  res("mmap_rounded_to_2_pages", maperr(small));
  int zero = open_sampling(PERF_COUNT_HW_CPU_CYCLES, 100000, -1, 1, 0);
  res("mmap_user_page_only", maperr(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, zero, 0)));
  res("pause_no_data_pages", ioctl(zero, PERF_EVENT_IOC_PAUSE_OUTPUT, 1));

  char *base = mmap(NULL, 9 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  res("mmap", maperr(base));
  if (base == MAP_FAILED) return 1;
  struct perf_event_mmap_page *up = (void *)base;
  printf("data_offset=%llu data_size=%llu head0=%llu cap_bit0_is_deprecated=%d\n",
         (unsigned long long)up->data_offset, (unsigned long long)up->data_size,
         (unsigned long long)up->data_head, (int)up->cap_bit0_is_deprecated);
  res("mmap_other_size", maperr(mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)));
  char *again = mmap(NULL, 9 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  res("mmap_same_size", maperr(again));

  /* A descriptor that is not the model's passes through. */
  int mfd = memfd_create("plain", 0);
  if (ftruncate(mfd, PG)) return 1;
  char *plain = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  res("mmap_plain_fd", maperr(plain));
  if (plain != MAP_FAILED) {
    plain[0] = 'x';
    char c = 0;
    res("plain_pread", pread(mfd, &c, 1, 0));
    printf("plain_byte=%c\n", c);
  }

  struct pollfd p = {.fd = fd, .events = POLLIN};
  res("poll_empty", poll(&p, 1, 0));

  /* 20 ms on CPU 1: the samples of the model's overflows, over the half-buffer watermark. */
  ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  msleep(20);
  ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  uint64_t head = __atomic_load_n(&up->data_head, __ATOMIC_ACQUIRE);
  uint64_t count = count_of(fd);
  printf("samples=%llu expected=%llu\n", (unsigned long long)(head / SAMPLE_BYTES),
         (unsigned long long)(count / 100000));
  printf("same_buffer=%d\n", ((struct perf_event_mmap_page *)again)->data_head == head);
  struct perf_event_header *h = (void *)(base + PG);
  uint64_t *f = (uint64_t *)(h + 1);
  printf("first_type=%u first_size=%u first_cpu=%u first_period=%llu first_time=%llu\n", h->type,
         h->size, (unsigned)f[3], (unsigned long long)f[4], (unsigned long long)f[2]);
  res("poll_wakeup", poll(&p, 1, 0));
  printf("poll_pollin=%d\n", (p.revents & POLLIN) != 0);
  res("poll_again", poll(&p, 1, 0));

  /* Without a reader the buffer fills: what does not fit is lost, then a LOST record. */
  ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  msleep(20);
  uint64_t full = __atomic_load_n(&up->data_head, __ATOMIC_ACQUIRE);
  printf("full_free_lt_record=%d\n", up->data_size - (full - up->data_tail) < SAMPLE_BYTES);
  __atomic_store_n(&up->data_tail, full, __ATOMIC_RELEASE);
  msleep(1);
  ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  uint64_t end = __atomic_load_n(&up->data_head, __ATOMIC_ACQUIRE);
  uint64_t seen = full / SAMPLE_BYTES, lost = 0, lost_records = 0;
  for (uint64_t pos = full; pos < end;) {
    struct perf_event_header eh;
    for (unsigned i = 0; i < sizeof eh; i++) ((char *)&eh)[i] = base[PG + (pos + i) % (8 * PG)];
    if (eh.type == PERF_RECORD_LOST) {
      uint64_t n;
      for (unsigned i = 0; i < 8; i++) ((char *)&n)[i] = base[PG + (pos + 16 + i) % (8 * PG)];
      lost += n;
      lost_records++;
    } else if (eh.type == PERF_RECORD_SAMPLE) {
      seen++;
    }
    pos += eh.size ? eh.size : 8;
  }
  count = count_of(fd);
  printf("lost_records=%llu lost_positive=%d seen_plus_lost_is_overflows=%d\n",
         (unsigned long long)lost_records, lost > 0, seen + lost == count / 100000);

  /* PAUSE_OUTPUT: a paused buffer takes nothing (what would be written is lost). */
  res("pause", ioctl(fd, PERF_EVENT_IOC_PAUSE_OUTPUT, 1));
  __atomic_store_n(&up->data_tail, end, __ATOMIC_RELEASE);
  ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  msleep(1);
  printf("paused_head_still=%d\n", up->data_head == end);
  res("resume", ioctl(fd, PERF_EVENT_IOC_PAUSE_OUTPUT, 0));
  ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  int unmapped = open_sampling(PERF_COUNT_HW_INSTRUCTIONS, 100000, -1, 1, 0);
  res("pause_unmapped", ioctl(unmapped, PERF_EVENT_IOC_PAUSE_OUTPUT, 1));

  /* SET_OUTPUT: the target needs a buffer; a mapped event cannot be redirected. */
  int other = open_sampling(PERF_COUNT_HW_INSTRUCTIONS, 50000, -1, 1, 0);
  res("set_output_to_unmapped", ioctl(other, PERF_EVENT_IOC_SET_OUTPUT, unmapped));
  res("set_output_of_mapped", ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, other));
  res("set_output", ioctl(other, PERF_EVENT_IOC_SET_OUTPUT, fd));
  uint64_t from = __atomic_load_n(&up->data_head, __ATOMIC_ACQUIRE);
  __atomic_store_n(&up->data_tail, from, __ATOMIC_RELEASE);
  ioctl(other, PERF_EVENT_IOC_ENABLE, 0);
  msleep(1);
  ioctl(other, PERF_EVENT_IOC_DISABLE, 0);
  uint64_t to = __atomic_load_n(&up->data_head, __ATOMIC_ACQUIRE);
  int redirected = 0;
  for (uint64_t pos = from; pos < to;) {
    struct perf_event_header eh;
    uint64_t period;
    for (unsigned i = 0; i < sizeof eh; i++) ((char *)&eh)[i] = base[PG + (pos + i) % (8 * PG)];
    for (unsigned i = 0; i < 8; i++) ((char *)&period)[i] = base[PG + (pos + 40 + i) % (8 * PG)];
    redirected += eh.type == PERF_RECORD_SAMPLE && period == 50000;
    pos += eh.size ? eh.size : 8;
  }
  printf("redirected_samples=%d expected_redirected=%llu\n", redirected,
         (unsigned long long)(count_of(other) / 50000));
  struct pollfd po = {.fd = other, .events = POLLIN};
  res("poll_redirected", poll(&po, 1, 0));

  /* munmap: the buffer goes with its last mapping; poll then reports POLLHUP. */
  res("munmap", munmap(again, 9 * PG));
  res("munmap_last", munmap(base, 9 * PG));
  p.revents = 0;
  res("poll_unmapped", poll(&p, 1, 0));
  printf("poll_pollhup=%d\n", (p.revents & POLLHUP) != 0);
  return 0;
}
