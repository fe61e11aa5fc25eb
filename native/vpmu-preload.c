/*
 * libvpmu-preload.so: the LD_PRELOAD shim of `vpmu exec`. It lets an unmodified,
 * dynamically linked program (the perf tool) run against a simulated host:
 *
 *  - perf_event_open (through syscall()), and read/ioctl/close/dup/fcntl/poll/mmap on the
 *    descriptors it returned, go to the vpmu model over a Unix socket. Each model event is
 *    backed by an eventfd the shim owns, so fd numbers, CLOEXEC, fork and close behave as
 *    the kernel's would. Nothing reaches the real kernel's perf_event_open.
 *  - Paths under /sys/bus/event_source, /sys/devices/system/{cpu,node}, /sys/devices/<pmu>
 *    and the perf sysctls in /proc/sys/kernel are redirected to the model's sysfs view
 *    (a directory vpmu exec writes), for every libc entry point perf imports.
 *  - In simulated time (VPMU_TIME=sim), clocks read the model's clock and sleeps, poll
 *    timeouts and waits are reported to the server, which advances the model instead of
 *    letting wall time pass.
 *
 * Environment (set by vpmu exec, inherited by children): VPMU_SOCK, VPMU_ROOT, VPMU_CLOCK,
 * VPMU_TIME, VPMU_REWRITE, VPMU_PRELOAD. Without VPMU_SOCK the shim does nothing.
 * The wire format is described in src/cli/exec-protocol.ts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- wire format (src/cli/exec-protocol.ts) ---- */
enum {
  OP_HELLO = 1,
  OP_OPEN = 2,
  OP_READ = 3,
  OP_IOCTL = 4,
  OP_CLOSE = 5,
  OP_SLEEP = 6,
  OP_CANCEL = 7,
  OP_BLOCK = 8,
  OP_UNBLOCK = 9,
  OP_FORKED = 10,
  OP_RUSAGE = 11,
  OP_MMAP = 12,
  OP_MUNMAP = 13,
  OP_POLL = 14,
};
#define HELLO_EXEC 1u
#define HELLO_FORK 2u
#define SLEEP_SIGCHLD 1u
#define IOCTL_ARG_NULL 1u
#define IOCTL_ARG_BADFD 2u
#define GROUP_NOT_PERF (-2)
#define PERF_FLAG_CLOEXEC_BIT (1u << 3)
#define SYSFS_MAGIC_NR 0x62656572
#define PAGE 4096

struct reply {
  uint32_t len, pad;
  int64_t ret;
};

/* ---- real functions ---- */
#define REAL(f)                                                        \
  (*({                                                                 \
    if (!real_##f) real_##f = (__typeof__(real_##f))next_sym(#f);      \
    real_##f;                                                          \
  }))

/* The next definition of a libc function; the pre-2.33 stat family only exists versioned. */
static void *next_sym(const char *name) {
  void *p = dlsym(RTLD_NEXT, name);
  if (!p) p = dlvsym(RTLD_NEXT, name, "GLIBC_2.2.5");
  if (!p) p = dlvsym(RTLD_NEXT, name, "GLIBC_2.17");
  return p;
}
#define DECL(ret, f, ...) static ret (*real_##f)(__VA_ARGS__)
DECL(long, syscall, long, ...);
DECL(ssize_t, read, int, void *, size_t);
DECL(ssize_t, write, int, const void *, size_t);
DECL(ssize_t, __read_chk, int, void *, size_t, size_t);
DECL(ssize_t, pread, int, void *, size_t, off_t);
DECL(ssize_t, pread64, int, void *, size_t, off_t);
DECL(int, ioctl, int, unsigned long, ...);
DECL(int, close, int);
DECL(int, dup, int);
DECL(int, dup2, int, int);
DECL(int, dup3, int, int, int);
DECL(int, fcntl, int, int, ...);
DECL(int, poll, struct pollfd *, nfds_t, int);
DECL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
DECL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *);
DECL(void *, mmap, void *, size_t, int, int, int, off_t);
DECL(void *, mmap64, void *, size_t, int, int, int, off_t);
DECL(int, munmap, void *, size_t);
DECL(int, open, const char *, int, ...);
DECL(int, open64, const char *, int, ...);
DECL(int, __open_2, const char *, int);
DECL(int, __open64_2, const char *, int);
DECL(int, openat, int, const char *, int, ...);
DECL(int, openat64, int, const char *, int, ...);
DECL(int, __openat_2, int, const char *, int);
DECL(int, __openat64_2, int, const char *, int);
DECL(FILE *, fopen, const char *, const char *);
DECL(FILE *, fopen64, const char *, const char *);
DECL(FILE *, freopen, const char *, const char *, FILE *);
DECL(FILE *, freopen64, const char *, const char *, FILE *);
DECL(DIR *, opendir, const char *);
DECL(struct dirent *, readdir, DIR *);
DECL(struct dirent64 *, readdir64, DIR *);
DECL(int, closedir, DIR *);
DECL(void, rewinddir, DIR *);
DECL(int, scandir, const char *, struct dirent ***, int (*)(const struct dirent *),
     int (*)(const struct dirent **, const struct dirent **));
DECL(int, scandir64, const char *, struct dirent64 ***, int (*)(const struct dirent64 *),
     int (*)(const struct dirent64 **, const struct dirent64 **));
DECL(int, nftw, const char *, int (*)(const char *, const struct stat *, int, struct FTW *), int,
     int);
DECL(int, nftw64, const char *, int (*)(const char *, const struct stat64 *, int, struct FTW *),
     int, int);
DECL(int, access, const char *, int);
DECL(int, faccessat, int, const char *, int, int);
DECL(int, euidaccess, const char *, int);
DECL(int, eaccess, const char *, int);
DECL(int, stat, const char *, struct stat *);
DECL(int, stat64, const char *, struct stat64 *);
DECL(int, lstat, const char *, struct stat *);
DECL(int, lstat64, const char *, struct stat64 *);
DECL(int, fstatat, int, const char *, struct stat *, int);
DECL(int, fstatat64, int, const char *, struct stat64 *, int);
DECL(int, __xstat, int, const char *, struct stat *);
DECL(int, __xstat64, int, const char *, struct stat64 *);
DECL(int, __lxstat, int, const char *, struct stat *);
DECL(int, __lxstat64, int, const char *, struct stat64 *);
DECL(int, __fxstatat, int, int, const char *, struct stat *, int);
DECL(int, __fxstatat64, int, int, const char *, struct stat64 *, int);
DECL(int, statx, int, const char *, int, unsigned int, struct statx *);
DECL(int, statfs, const char *, struct statfs *);
DECL(int, statfs64, const char *, struct statfs64 *);
DECL(int, statvfs, const char *, struct statvfs *);
DECL(int, statvfs64, const char *, struct statvfs64 *);
DECL(char *, realpath, const char *, char *);
DECL(char *, canonicalize_file_name, const char *);
DECL(ssize_t, readlink, const char *, char *, size_t);
DECL(ssize_t, readlinkat, int, const char *, char *, size_t);
DECL(int, clock_gettime, clockid_t, struct timespec *);
DECL(int, gettimeofday, struct timeval *, void *);
DECL(time_t, time, time_t *);
DECL(int, nanosleep, const struct timespec *, struct timespec *);
DECL(int, clock_nanosleep, clockid_t, int, const struct timespec *, struct timespec *);
DECL(int, usleep, useconds_t);
DECL(unsigned int, sleep, unsigned int);
DECL(pid_t, fork, void);
DECL(int, posix_spawn, pid_t *, const char *, const posix_spawn_file_actions_t *,
     const posix_spawnattr_t *, char *const[], char *const[]);
DECL(int, posix_spawnp, pid_t *, const char *, const posix_spawn_file_actions_t *,
     const posix_spawnattr_t *, char *const[], char *const[]);
DECL(pid_t, waitpid, pid_t, int *, int);
DECL(pid_t, wait4, pid_t, int *, int, struct rusage *);
DECL(int, waitid, idtype_t, id_t, siginfo_t *, int);
DECL(int, execve, const char *, char *const[], char *const[]);
DECL(int, execvpe, const char *, char *const[], char *const[]);
DECL(long, sysconf, int);
DECL(int, get_nprocs, void);
DECL(int, get_nprocs_conf, void);

/* ---- state ---- */
static int active = -1; /* -1: not initialised yet */
static int sim_time;
static const char *sock_path, *view_root, *preload_path;
static char *rewrite_list[64];
static int nrewrite;
static const volatile uint64_t *clock_page; /* [0] model ns, [1] CLOCK_REALTIME at 0 */
static int nr_cpus_model;
/*
 * Non-blocking tries before a reply wait blocks (VPMU_SPIN, default 200; 0 turns it off).
 * A reply usually comes within tens of microseconds; blocking at once lets this CPU go
 * idle, and waking an idle (virtual) CPU can cost more than the whole round trip.
 */
static int spin_tries = 200;

static int sock = -1;
static pid_t sock_pid;
static dev_t sock_dev;
static ino_t sock_ino;
static int server_gone;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* fd -> model handle + 1 (0: not ours), and per-handle count of local descriptors. */
static int32_t *fdh;
static size_t fdh_len;
static uint32_t *hcount;
static size_t hcount_len;

static void init(void);

static int is_active(void) {
  if (active < 0) init();
  return active;
}

static void warn_once(int *flag, const char *fmt, ...) {
  if (*flag) return;
  *flag = 1;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) {
    ssize_t w = REAL(write)(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    (void)w;
  }
}

/* ---- fd table ---- */
static int handle_of(int fd) {
  if (fd < 0 || (size_t)fd >= fdh_len) return -1;
  return fdh[fd] - 1;
}

static int grow(void **p, size_t *len, size_t need, size_t elem) {
  if (need < *len) return 0;
  size_t n = *len ? *len : 256;
  while (n <= need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return -1;
  memset((char *)q + *len * elem, 0, (n - *len) * elem);
  *p = q;
  *len = n;
  return 0;
}

static int track(int fd, int handle) {
  if (grow((void **)&fdh, &fdh_len, (size_t)fd, sizeof *fdh) ||
      grow((void **)&hcount, &hcount_len, (size_t)handle, sizeof *hcount))
    return -1;
  fdh[fd] = handle + 1;
  hcount[handle]++;
  return 0;
}

/* Forgets fd; returns the handle whose last local descriptor it was, or -1. */
static int untrack(int fd) {
  int h = handle_of(fd);
  if (h < 0) return -1;
  fdh[fd] = 0;
  if (--hcount[h] == 0) return h;
  return -1;
}

/* ---- transport ---- */
static int recv_all(void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = recv(sock, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static void lost(const char *why) {
  if (sock >= 0) REAL(close)(sock);
  sock = -1;
  server_gone = 1;
  static int said;
  warn_once(&said,
            "vpmu-preload: the vpmu exec server is gone (%s); perf_event_open and perf fds now "
            "fail with EIO\n",
            why);
}

static int send_msg(uint32_t op, const void *a, size_t alen, const void *b, size_t blen);

/* Sends HELLO with the handles this process holds. */
static void hello(uint32_t flags) {
  char comm[16] = {0};
  int fd = REAL(open)("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = REAL(read)(fd, comm, sizeof comm - 1);
    if (r > 0 && comm[r - 1] == '\n') comm[r - 1] = 0;
    REAL(close)(fd);
  }
  uint32_t head[8] = {(uint32_t)getpid(), (uint32_t)getppid(), (uint32_t)getuid(), flags};
  memcpy(&head[4], comm, 16);
  uint32_t n = 0;
  int32_t *hs = NULL;
  for (size_t h = 0; h < hcount_len; h++)
    if (hcount[h]) n++;
  if (n) {
    hs = malloc(n * sizeof *hs);
    if (!hs) n = 0;
    n = 0;
    for (size_t h = 0; hs && h < hcount_len; h++)
      if (hcount[h]) hs[n++] = (int32_t)h;
  }
  char buf[sizeof head + 4];
  memcpy(buf, head, sizeof head);
  memcpy(buf + sizeof head, &n, 4);
  send_msg(OP_HELLO, buf, sizeof buf, hs, n * sizeof *hs);
  free(hs);
}

/*
 * Is `sock` still the connection? A program may close every descriptor behind libc's back
 * (close_range()) and reuse the number: then it is not ours to write to or to close.
 */
static int sock_is_ours(void) {
  struct stat st;
  return fstat(sock, &st) == 0 && st.st_dev == sock_dev && st.st_ino == sock_ino;
}

/* Connects (again, after a fork or a lost descriptor) to the server. Caller holds the lock. */
static int connect_server(uint32_t hello_flags) {
  if (sock >= 0 && sock_pid == getpid() && sock_is_ours()) return 0;
  if (server_gone) return -1;
  /* Inherited across fork: the parent's connection, ours to close in this process. */
  if (sock >= 0 && sock_pid != getpid() && sock_is_ours()) REAL(close)(sock);
  sock = -1;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, sock_path, sizeof a.sun_path - 1);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    REAL(close)(s);
    lost(strerror(e));
    return -1;
  }
  /* Keep the connection out of the way of programs that dup2 onto low descriptors. */
  struct rlimit rl;
  int high = 900;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 64 && rl.rlim_cur < 1u << 20)
    high = (int)rl.rlim_cur - 40;
  int moved = REAL(fcntl)(s, F_DUPFD_CLOEXEC, high);
  if (moved >= 0) {
    REAL(close)(s);
    s = moved;
  }
  sock = s;
  sock_pid = getpid();
  struct stat st;
  if (fstat(s, &st) == 0) {
    sock_dev = st.st_dev;
    sock_ino = st.st_ino;
  }
  hello(hello_flags);
  return sock >= 0 ? 0 : -1;
}

static int send_msg(uint32_t op, const void *a, size_t alen, const void *b, size_t blen) {
  /* One sendmsg per request: the header and both parts. */
  uint32_t h[2] = {(uint32_t)(alen + blen), op};
  struct iovec iov[3] = {{h, sizeof h}, {(void *)a, alen}, {(void *)b, blen}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
  size_t left = sizeof h + alen + blen;
  while (left > 0) {
    ssize_t w = sendmsg(sock, &m, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      lost("send failed");
      return -1;
    }
    left -= (size_t)w;
    for (size_t k = (size_t)w; k > 0 && m.msg_iovlen > 0;) {
      size_t l = m.msg_iov[0].iov_len;
      if (k < l) {
        m.msg_iov[0].iov_base = (char *)m.msg_iov[0].iov_base + k;
        m.msg_iov[0].iov_len -= k;
        k = 0;
      } else {
        k -= l;
        m.msg_iov++;
        m.msg_iovlen--;
      }
    }
  }
  return 0;
}

/* Reads one reply; its payload (up to cap bytes) goes to out. Returns 0 or -1 (lost). */
static int recv_reply(struct reply *r, void *out, size_t cap) {
  /* Usually one recv: the header and a small payload arrive together. */
  char buf[sizeof *r + 256];
  size_t got = 0;
  /* A bounded spin first (see spin_tries); sched_yield lets a server on this CPU run. */
  for (int i = 0; i < spin_tries && got == 0; i++) {
    ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got = (size_t)n;
    else if (n == 0) {
      lost("connection closed");
      return -1;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
    else sched_yield();
  }
  while (got < sizeof *r) {
    ssize_t n = recv(sock, buf + got, sizeof buf - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      lost("connection closed");
      return -1;
    }
    got += (size_t)n;
  }
  memcpy(r, buf, sizeof *r);
  size_t len = r->len, have = got - sizeof *r;
  if (have > len) have = len; /* a reply never carries more than its length */
  size_t take = have < cap ? have : cap;
  if (take) memcpy(out, buf + sizeof *r, take);
  size_t done = have;
  while (done < len) {
    char junk[256];
    char *dst = done < cap ? (char *)out + done : junk;
    size_t room = done < cap ? cap - done : sizeof junk;
    if (room > len - done) room = len - done;
    if (recv_all(dst, room)) {
      lost("connection closed");
      return -1;
    }
    done += room;
  }
  return 0;
}

/*
 * One request and its reply. Returns the reply's ret, or -EIO when the server is gone.
 * One-way messages (no reply) pass out == NULL and cap == (size_t)-1.
 */
static int64_t call(uint32_t op, const void *a, size_t alen, const void *b, size_t blen, void *out,
                    size_t cap) {
  pthread_mutex_lock(&lock);
  int64_t ret = -EIO;
  if (connect_server(0) == 0 && send_msg(op, a, alen, b, blen) == 0) {
    if (cap == (size_t)-1) ret = 0;
    else {
      struct reply r;
      if (recv_reply(&r, out, cap) == 0) ret = r.ret;
    }
  }
  pthread_mutex_unlock(&lock);
  return ret;
}

static void oneway(uint32_t op, const void *a, size_t alen) {
  call(op, a, alen, NULL, 0, NULL, (size_t)-1);
}

/* ---- initialisation ---- */
/*
 * The real descriptor behind a model event is an eventfd whose counter holds VPMU_MAGIC
 * and the handle: an anonymous inode like a perf fd, and cheaper to make than a memfd.
 */
#define VPMU_MAGIC 0x76706d75ull /* "vpmu" */

static void rebuild_fd_table(void) {
  /* After exec: perf fds that survived (no CLOEXEC) are eventfds with the magic count. */
  DIR *d = REAL(opendir)("/proc/self/fd");
  if (!d) return;
  struct dirent64 *e;
  while ((e = REAL(readdir64)(d))) {
    char path[300], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = REAL(readlink)(path, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    if (strcmp(target, "anon_inode:[eventfd]")) continue;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%s", e->d_name);
    FILE *f = REAL(fopen)(path, "re");
    char line[128];
    unsigned long long count = 0;
    while (f && fgets(line, sizeof line, f))
      if (sscanf(line, "eventfd-count: %llx", &count) == 1) break;
    if (f) fclose(f);
    if (count >> 32 == VPMU_MAGIC) track(atoi(e->d_name), (int)(count & 0xffffffffu));
  }
  REAL(closedir)(d);
}

static void atfork_child(void) {
  /* The parent's connection must not be shared: the child connects on its first call. */
  pthread_mutex_init(&lock, NULL);
  if (sock >= 0) {
    REAL(close)(sock);
    sock = -1;
  }
  sock_pid = 0;
}

static void init(void) {
  if (active >= 0) return;
  sock_path = getenv("VPMU_SOCK");
  view_root = getenv("VPMU_ROOT");
  preload_path = getenv("VPMU_PRELOAD");
  if (!sock_path || !*sock_path || !view_root) {
    active = 0;
    return;
  }
  const char *t = getenv("VPMU_TIME");
  sim_time = t && !strcmp(t, "sim");
  const char *rw = getenv("VPMU_REWRITE");
  if (rw) {
    char *copy = strdup(rw);
    for (char *tok = strtok(copy, ":"); tok && nrewrite < 64; tok = strtok(NULL, ":"))
      rewrite_list[nrewrite++] = tok;
  }
  const char *cp = getenv("VPMU_CLOCK");
  if (cp) {
    int fd = REAL(open)(cp, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      void *p = REAL(mmap)(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) clock_page = p;
      REAL(close)(fd);
    }
  }
  const char *nc = getenv("VPMU_NR_CPUS");
  nr_cpus_model = nc ? atoi(nc) : 0;
  const char *sp = getenv("VPMU_SPIN");
  if (sp && *sp) spin_tries = atoi(sp) < 0 ? 0 : atoi(sp);
  pthread_atfork(NULL, NULL, atfork_child);
  active = 1;
}

__attribute__((constructor)) static void vpmu_preload_ctor(void) {
  init();
  if (!active) return;
  rebuild_fd_table();
  /* Report the exec: the model runs perf_event_exec() (enable_on_exec) for this task. */
  pthread_mutex_lock(&lock);
  connect_server(HELLO_EXEC);
  pthread_mutex_unlock(&lock);
}

/* ---- path redirection ---- */

/* Normalises an absolute path (collapses // and /./) into out; returns out or NULL. */
static const char *normalise(const char *p, char *out, size_t cap) {
  size_t n = 0;
  for (const char *s = p; *s && n + 1 < cap; s++) {
    if (*s == '/' && n > 0 && out[n - 1] == '/') continue;
    if (*s == '.' && n > 0 && out[n - 1] == '/' && (s[1] == '/' || s[1] == 0)) {
      if (s[1] == '/') s++;
      continue;
    }
    out[n++] = *s;
  }
  if (n > 1 && out[n - 1] == '/') n--;
  out[n] = 0;
  return out;
}

/* The view path for a real path the view replaces, else the path itself. */
/*
 * /proc itself and /proc/<pid> of the simulated host's own tasks (the view writes one
 * directory per model task): perf record -a synthesizes the model's processes from there.
 */
static const char *vproc(const char *norm, char *buf) {
  const char *p = norm + 5;
  if (*p == 0) {
    snprintf(buf, PATH_MAX, "%s/proc", view_root);
    return buf;
  }
  if (*p != '/' || p[1] < '0' || p[1] > '9') return NULL;
  const char *q = p + 1;
  while (*q >= '0' && *q <= '9') q++;
  if (*q != 0 && *q != '/') return NULL;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/proc%.*s", view_root, (int)(q - p), p);
  if (REAL(access)(dir, F_OK)) return NULL;
  snprintf(buf, PATH_MAX, "%s%s", view_root, norm);
  return buf;
}

static const char *vpath(const char *path, char *buf) {
  if (!path || path[0] != '/' || !is_active()) return path;
  if (strncmp(path, "/sys", 4) && strncmp(path, "/proc", 5)) return path;
  char norm[PATH_MAX];
  normalise(path, norm, sizeof norm);
  if (!strncmp(norm, "/proc", 5) && (norm[5] == 0 || norm[5] == '/') &&
      strncmp(norm, "/proc/sys/kernel/", 17)) {
    const char *v = vproc(norm, buf);
    return v ? v : path;
  }
  for (int i = 0; i < nrewrite; i++) {
    size_t l = strlen(rewrite_list[i]);
    if (!strncmp(norm, rewrite_list[i], l) && (norm[l] == 0 || norm[l] == '/')) {
      snprintf(buf, PATH_MAX, "%s%s", view_root, norm);
      return buf;
    }
  }
  return path;
}

static int in_view(const char *p) {
  size_t l = view_root ? strlen(view_root) : 0;
  return l && p && !strncmp(p, view_root, l);
}

#define PATHFN1(ret, f, T1)                     \
  ret f(const char *p, T1 a) {                  \
    char b[PATH_MAX];                           \
    return REAL(f)(vpath(p, b), a);             \
  }
#define PATHFN2(ret, f, T1, T2)                 \
  ret f(const char *p, T1 a, T2 c) {            \
    char b[PATH_MAX];                           \
    return REAL(f)(vpath(p, b), a, c);          \
  }
#define ATFN(ret, f, T1, T2)                    \
  ret f(int d, const char *p, T1 a, T2 c) {     \
    char b[PATH_MAX];                           \
    return REAL(f)(d, vpath(p, b), a, c);       \
  }

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  char b[PATH_MAX];
  return REAL(open)(vpath(p, b), flags, m);
}
int open64(const char *p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  char b[PATH_MAX];
  return REAL(open64)(vpath(p, b), flags, m);
}
int openat(int d, const char *p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  char b[PATH_MAX];
  return REAL(openat)(d, vpath(p, b), flags, m);
}
int openat64(int d, const char *p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  char b[PATH_MAX];
  return REAL(openat64)(d, vpath(p, b), flags, m);
}
PATHFN1(int, __open_2, int)
PATHFN1(int, __open64_2, int)
int __openat_2(int d, const char *p, int f) {
  char b[PATH_MAX];
  return REAL(__openat_2)(d, vpath(p, b), f);
}
int __openat64_2(int d, const char *p, int f) {
  char b[PATH_MAX];
  return REAL(__openat64_2)(d, vpath(p, b), f);
}
PATHFN1(FILE *, fopen, const char *)
PATHFN1(FILE *, fopen64, const char *)
PATHFN2(FILE *, freopen, const char *, FILE *)
PATHFN2(FILE *, freopen64, const char *, FILE *)
PATHFN1(int, access, int)
PATHFN1(int, euidaccess, int)
PATHFN1(int, eaccess, int)
ATFN(int, faccessat, int, int)
PATHFN1(int, stat, struct stat *)
PATHFN1(int, stat64, struct stat64 *)
PATHFN1(int, lstat, struct stat *)
PATHFN1(int, lstat64, struct stat64 *)
ATFN(int, fstatat, struct stat *, int)
ATFN(int, fstatat64, struct stat64 *, int)
int __xstat(int v, const char *p, struct stat *s) {
  char b[PATH_MAX];
  return REAL(__xstat)(v, vpath(p, b), s);
}
int __xstat64(int v, const char *p, struct stat64 *s) {
  char b[PATH_MAX];
  return REAL(__xstat64)(v, vpath(p, b), s);
}
int __lxstat(int v, const char *p, struct stat *s) {
  char b[PATH_MAX];
  return REAL(__lxstat)(v, vpath(p, b), s);
}
int __lxstat64(int v, const char *p, struct stat64 *s) {
  char b[PATH_MAX];
  return REAL(__lxstat64)(v, vpath(p, b), s);
}
int __fxstatat(int v, int d, const char *p, struct stat *s, int f) {
  char b[PATH_MAX];
  return REAL(__fxstatat)(v, d, vpath(p, b), s, f);
}
int __fxstatat64(int v, int d, const char *p, struct stat64 *s, int f) {
  char b[PATH_MAX];
  return REAL(__fxstatat64)(v, d, vpath(p, b), s, f);
}
int statx(int d, const char *p, int f, unsigned int m, struct statx *s) {
  char b[PATH_MAX];
  return REAL(statx)(d, vpath(p, b), f, m, s);
}
PATHFN1(int, statvfs, struct statvfs *)
PATHFN1(int, statvfs64, struct statvfs64 *)
PATHFN1(char *, realpath, char *)
ssize_t readlink(const char *p, char *o, size_t n) {
  char b[PATH_MAX];
  return REAL(readlink)(vpath(p, b), o, n);
}
ssize_t readlinkat(int d, const char *p, char *o, size_t n) {
  char b[PATH_MAX];
  return REAL(readlinkat)(d, vpath(p, b), o, n);
}
char *canonicalize_file_name(const char *p) {
  char b[PATH_MAX];
  return REAL(canonicalize_file_name)(vpath(p, b));
}

/* perf finds sysfs with statfs("/sys") == SYSFS_MAGIC: always true on the simulated host. */
int statfs(const char *p, struct statfs *s) {
  char b[PATH_MAX];
  int r = REAL(statfs)(vpath(p, b), s);
  if (r == 0 && is_active() && !strcmp(p, "/sys")) s->f_type = SYSFS_MAGIC_NR;
  return r;
}
int statfs64(const char *p, struct statfs64 *s) {
  char b[PATH_MAX];
  int r = REAL(statfs64)(vpath(p, b), s);
  if (r == 0 && is_active() && !strcmp(p, "/sys")) s->f_type = SYSFS_MAGIC_NR;
  return r;
}

int nftw(const char *p, int (*fn)(const char *, const struct stat *, int, struct FTW *), int n,
         int f) {
  char b[PATH_MAX];
  return REAL(nftw)(vpath(p, b), fn, n, f);
}
int nftw64(const char *p, int (*fn)(const char *, const struct stat64 *, int, struct FTW *), int n,
           int f) {
  char b[PATH_MAX];
  return REAL(nftw64)(vpath(p, b), fn, n, f);
}

/*
 * Directories of the view are listed in the order sysfs lists them: kernfs keeps a
 * directory's entries in an rbtree sorted by kernfs_name_hash() and then by name, and
 * readdir walks it after "." and "..". (The view's own file system has an order of its own,
 * tmpfs lists newest first, and perf keeps PMUs and aliases in the order it reads them.)
 */
struct sorted_dir {
  DIR *dir;
  struct dirent64 **ents;
  size_t n, next;
  int loaded;
  struct sorted_dir *link;
};
static struct sorted_dir *sorted_dirs;
static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;

/* kernel: kernfs_name_hash() with no namespace (partial_name_hash(), end_name_hash()). */
static uint32_t kernfs_hash(const char *name) {
  uint64_t h = 0;
  for (const unsigned char *c = (const unsigned char *)name; *c; c++)
    h = (h + ((uint64_t)*c << 4) + (*c >> 4)) * 11;
  uint32_t r = (uint32_t)((h * 0x61C8864680B583EBull) >> 32) & 0x7fffffffu;
  if (r < 2) r += 2;
  if (r >= 0x7fffffffu) r = 0x7fffffffu - 1;
  return r;
}

static int dots(const char *n) {
  return !strcmp(n, ".") ? 0 : !strcmp(n, "..") ? 1 : 2;
}

static int by_name(const void *a, const void *b) {
  const char *x = (*(struct dirent64 *const *)a)->d_name;
  const char *y = (*(struct dirent64 *const *)b)->d_name;
  int dx = dots(x), dy = dots(y);
  if (dx != 2 || dy != 2) return dx - dy;
  uint32_t hx = kernfs_hash(x), hy = kernfs_hash(y);
  if (hx != hy) return hx < hy ? -1 : 1;
  return strcmp(x, y);
}

static struct sorted_dir *sorted_of(DIR *d) {
  for (struct sorted_dir *s = sorted_dirs; s; s = s->link)
    if (s->dir == d) return s;
  return NULL;
}

DIR *opendir(const char *p) {
  char b[PATH_MAX];
  const char *v = vpath(p, b);
  DIR *d = REAL(opendir)(v);
  if (d && in_view(v)) {
    struct sorted_dir *s = calloc(1, sizeof *s);
    if (s) {
      s->dir = d;
      pthread_mutex_lock(&dir_lock);
      s->link = sorted_dirs;
      sorted_dirs = s;
      pthread_mutex_unlock(&dir_lock);
    }
  }
  return d;
}

static struct dirent64 *sorted_next(struct sorted_dir *s) {
  if (!s->loaded) {
    s->loaded = 1;
    struct dirent64 *e;
    size_t cap = 0;
    while ((e = REAL(readdir64)(s->dir))) {
      if (s->n == cap) {
        cap = cap ? cap * 2 : 32;
        struct dirent64 **q = realloc(s->ents, cap * sizeof *q);
        if (!q) break;
        s->ents = q;
      }
      struct dirent64 *c = malloc(e->d_reclen);
      if (!c) break;
      memcpy(c, e, e->d_reclen);
      s->ents[s->n++] = c;
    }
    if (s->n) qsort(s->ents, s->n, sizeof *s->ents, by_name);
  }
  return s->next < s->n ? s->ents[s->next++] : NULL;
}

struct dirent64 *readdir64(DIR *d) {
  pthread_mutex_lock(&dir_lock);
  struct sorted_dir *s = sorted_of(d);
  struct dirent64 *e = s ? sorted_next(s) : NULL;
  pthread_mutex_unlock(&dir_lock);
  return s ? e : REAL(readdir64)(d);
}

struct dirent *readdir(DIR *d) {
  pthread_mutex_lock(&dir_lock);
  struct sorted_dir *s = sorted_of(d);
  struct dirent64 *e = s ? sorted_next(s) : NULL;
  pthread_mutex_unlock(&dir_lock);
  /* struct dirent and struct dirent64 share their layout on 64-bit Linux. */
  return s ? (struct dirent *)e : REAL(readdir)(d);
}

void rewinddir(DIR *d) {
  pthread_mutex_lock(&dir_lock);
  struct sorted_dir *s = sorted_of(d);
  if (s) s->next = 0;
  pthread_mutex_unlock(&dir_lock);
  REAL(rewinddir)(d);
}

int closedir(DIR *d) {
  pthread_mutex_lock(&dir_lock);
  for (struct sorted_dir **pp = &sorted_dirs; *pp; pp = &(*pp)->link) {
    if ((*pp)->dir != d) continue;
    struct sorted_dir *s = *pp;
    *pp = s->link;
    for (size_t i = 0; i < s->n; i++) free(s->ents[i]);
    free(s->ents);
    free(s);
    break;
  }
  pthread_mutex_unlock(&dir_lock);
  return REAL(closedir)(d);
}

static int alpha(const struct dirent **a, const struct dirent **b) {
  return by_name(a, b);
}
static int alpha64(const struct dirent64 **a, const struct dirent64 **b) {
  return by_name(a, b);
}

int scandir(const char *p, struct dirent ***list, int (*sel)(const struct dirent *),
            int (*cmp)(const struct dirent **, const struct dirent **)) {
  char b[PATH_MAX];
  const char *v = vpath(p, b);
  return REAL(scandir)(v, list, sel, cmp || !in_view(v) ? cmp : alpha);
}
int scandir64(const char *p, struct dirent64 ***list, int (*sel)(const struct dirent64 *),
              int (*cmp)(const struct dirent64 **, const struct dirent64 **)) {
  char b[PATH_MAX];
  const char *v = vpath(p, b);
  return REAL(scandir64)(v, list, sel, cmp || !in_view(v) ? cmp : alpha64);
}

/* ---- perf_event_open and the event descriptors ---- */
static void release_fd(int fd);
static void release_range(unsigned lo, unsigned hi);

static long perf_event_open_model(void *uattr, pid_t pid, int cpu, int group_fd,
                                  unsigned long flags) {
  if (!uattr) {
    errno = EFAULT;
    return -1;
  }
  uint32_t size;
  memcpy(&size, (char *)uattr + 4, 4);
  uint32_t n = size == 0 ? 64 : size;
  if (n < 64 || n > PAGE) n = 8; /* the model answers E2BIG from the size alone */
  int32_t group = -1;
  if (group_fd != -1) group = handle_of(group_fd) >= 0 ? handle_of(group_fd) : GROUP_NOT_PERF;
  int32_t head[5] = {pid, cpu, group, (int32_t)flags, (int32_t)n};
  uint32_t writeback = 0;
  int64_t r = call(OP_OPEN, head, sizeof head, uattr, n, &writeback, sizeof writeback);
  if (writeback) memcpy((char *)uattr + 4, &writeback, 4);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  int fd = eventfd(0, flags & PERF_FLAG_CLOEXEC_BIT ? EFD_CLOEXEC : 0);
  uint64_t mark = VPMU_MAGIC << 32 | (uint64_t)r;
  if (fd >= 0 && REAL(write)(fd, &mark, sizeof mark) != (ssize_t)sizeof mark) {
    REAL(close)(fd);
    fd = -1;
  }
  if (fd < 0 || track(fd, (int)r)) {
    int e = fd < 0 ? errno : ENOMEM;
    int32_t h = (int32_t)r;
    oneway(OP_CLOSE, &h, sizeof h);
    if (fd >= 0) REAL(close)(fd);
    errno = e;
    return -1;
  }
  return fd;
}

long syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (nr == SYS_perf_event_open && is_active())
    return perf_event_open_model((void *)a[0], (pid_t)a[1], (int)a[2], (int)a[3],
                                 (unsigned long)a[4]);
  long r = REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (nr == SYS_close_range && r == 0 && !(a[2] & 4)) release_range((unsigned)a[0], (unsigned)a[1]);
  if (nr == SYS_close && r == 0 && handle_of((int)a[0]) >= 0) release_fd((int)a[0]);
  return r;
}

static ssize_t model_read(int h, void *buf, size_t count) {
  int32_t req[2] = {h, (int32_t)(count > INT32_MAX ? INT32_MAX : count)};
  int64_t r = call(OP_READ, req, sizeof req, NULL, 0, buf, count);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return (ssize_t)r;
}

ssize_t read(int fd, void *buf, size_t n) {
  int h = handle_of(fd);
  return h >= 0 ? model_read(h, buf, n) : REAL(read)(fd, buf, n);
}
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  int h = handle_of(fd);
  return h >= 0 ? model_read(h, buf, n) : REAL(__read_chk)(fd, buf, n, buflen);
}
/* A perf fd cannot be read at an offset (the file has no FMODE_PREAD): ESPIPE. */
ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  if (handle_of(fd) >= 0) {
    errno = ESPIPE;
    return -1;
  }
  return REAL(pread)(fd, buf, n, off);
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
  if (handle_of(fd) >= 0) {
    errno = ESPIPE;
    return -1;
  }
  return REAL(pread64)(fd, buf, n, off);
}

/* perf fds have no write operation: EINVAL (and the eventfd behind keeps its mark). */
ssize_t write(int fd, const void *buf, size_t n) {
  if (handle_of(fd) >= 0) {
    errno = EINVAL;
    return -1;
  }
  return REAL(write)(fd, buf, n);
}

#define IOC_MAGIC '$'
#define IOC_NR(c) ((c) & 0xff)
#define IOC_TYPE(c) (((c) >> 8) & 0xff)

int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  int h = handle_of(fd);
  if (h < 0) return REAL(ioctl)(fd, req, arg);
  uint32_t cmd = (uint32_t)req;
  uint64_t value = (uint64_t)(uintptr_t)arg;
  uint32_t flags = arg ? 0 : IOCTL_ARG_NULL;
  const void *extra = NULL;
  uint32_t extralen = 0;
  if (IOC_TYPE(cmd) == IOC_MAGIC) {
    switch (IOC_NR(cmd)) {
      case 4: /* PERIOD: a pointer to the u64 */
        if (arg) memcpy(&value, arg, 8);
        break;
      case 5: /* SET_OUTPUT: an fd, or (unsigned long)-1 for none (an int -1 is not that) */
        if (value != UINT64_MAX) {
          int oh = handle_of((int)value);
          if (oh >= 0) value = (uint64_t)oh;
          else flags |= IOCTL_ARG_BADFD;
        }
        break;
      case 6: /* SET_FILTER: a string */
        if (arg) {
          extra = arg;
          extralen = (uint32_t)strnlen(arg, PAGE);
        }
        break;
      case 8: /* SET_BPF: a bpf program fd */
        if (REAL(fcntl)((int)value, F_GETFD) < 0) flags |= IOCTL_ARG_BADFD;
        break;
      case 11: /* MODIFY_ATTRIBUTES: a struct perf_event_attr */
        if (arg) {
          uint32_t size;
          memcpy(&size, (char *)arg + 4, 4);
          extralen = size == 0 ? 64 : size;
          if (extralen < 64 || extralen > PAGE) extralen = 8;
          extra = arg;
        }
        break;
    }
  }
  char head[20];
  int32_t hh = h;
  memcpy(head, &hh, 4);
  memcpy(head + 4, &cmd, 4);
  memcpy(head + 8, &value, 8);
  memcpy(head + 16, &flags, 4);
  char msg[24];
  memcpy(msg, head, 20);
  memcpy(msg + 20, &extralen, 4);
  uint64_t out = 0;
  int64_t r = call(OP_IOCTL, msg, sizeof msg, extra, extralen, &out, sizeof out);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  if (IOC_TYPE(cmd) == IOC_MAGIC && IOC_NR(cmd) == 7) { /* ID */
    if (!arg) {
      errno = EFAULT;
      return -1;
    }
    memcpy(arg, &out, 8);
  }
  return (int)r;
}

/* The event goes when the last descriptor of this process that refers to it closes. */
static void release_fd(int fd) {
  int h = untrack(fd);
  if (h >= 0) {
    int32_t hh = h;
    oneway(OP_CLOSE, &hh, sizeof hh);
  }
}

int close(int fd) {
  if (fd == sock && fd >= 0 && sock_pid == getpid()) {
    /* A program closing every descriptor (closefrom-like) also closes the connection. */
    pthread_mutex_lock(&lock);
    int r = REAL(close)(fd);
    sock = -1;
    sock_pid = 0;
    pthread_mutex_unlock(&lock);
    return r;
  }
  int ours = handle_of(fd) >= 0;
  int r = REAL(close)(fd);
  if (ours) release_fd(fd);
  return r;
}

/* close_range()/closefrom(): the perf fds in [lo, hi] are closed too. */
static void release_range(unsigned lo, unsigned hi) {
  for (size_t fd = lo; fd < fdh_len && fd <= hi; fd++)
    if (fdh[fd]) release_fd((int)fd);
  if (sock >= 0 && (unsigned)sock >= lo && (unsigned)sock <= hi) sock = -1;
}

int close_range(unsigned lo, unsigned hi, int flags) {
  static int (*real)(unsigned, unsigned, int);
  if (!real) real = (int (*)(unsigned, unsigned, int))next_sym("close_range");
  int r = real ? real(lo, hi, flags) : (int)REAL(syscall)(SYS_close_range, lo, hi, flags);
  if (r == 0 && !(flags & 4 /* CLOSE_RANGE_CLOEXEC */)) release_range(lo, hi);
  return r;
}

void closefrom(int lo) {
  static void (*real)(int);
  if (!real) real = (void (*)(int))next_sym("closefrom");
  if (real) real(lo);
  else REAL(syscall)(SYS_close_range, lo, ~0u, 0);
  if (lo >= 0) release_range((unsigned)lo, ~0u);
}

static int dup_tracked(int oldfd, int newfd) {
  int h = handle_of(oldfd);
  if (newfd >= 0 && h >= 0 && track(newfd, h)) return -1;
  return newfd;
}

/* Moves the server connection away before a dup2/dup3 lands on its number. */
static void spare_sock(int newfd) {
  if (newfd != sock || sock < 0) return;
  pthread_mutex_lock(&lock);
  int moved = REAL(fcntl)(sock, F_DUPFD_CLOEXEC, sock + 1);
  if (moved >= 0) {
    REAL(close)(sock);
    sock = moved;
  }
  pthread_mutex_unlock(&lock);
}

int dup(int fd) {
  return dup_tracked(fd, REAL(dup)(fd));
}
int dup2(int oldfd, int newfd) {
  spare_sock(newfd);
  if (oldfd != newfd && handle_of(newfd) >= 0) release_fd(newfd);
  int r = REAL(dup2)(oldfd, newfd);
  return r >= 0 && oldfd != newfd ? dup_tracked(oldfd, r) : r;
}
int dup3(int oldfd, int newfd, int flags) {
  spare_sock(newfd);
  if (oldfd != newfd && handle_of(newfd) >= 0) release_fd(newfd);
  int r = REAL(dup3)(oldfd, newfd, flags);
  return r >= 0 ? dup_tracked(oldfd, r) : r;
}

static __typeof__(real_fcntl) real_fcntl_fn(void) {
  return &REAL(fcntl);
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, va_list ap) {
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
    case F_SETFD:
    case F_SETFL:
    case F_SETOWN:
    case F_SETSIG:
    case F_SETLEASE:
    case F_NOTIFY:
    case F_SETPIPE_SZ:
    case F_ADD_SEALS: {
      int v = va_arg(ap, int);
      int r = real(fd, cmd, v);
      if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return dup_tracked(fd, r);
      return r;
    }
    case F_GETFD:
    case F_GETFL:
    case F_GETOWN:
    case F_GETSIG:
    case F_GETLEASE:
    case F_GETPIPE_SZ:
    case F_GET_SEALS:
      return real(fd, cmd);
    default:
      return real(fd, cmd, va_arg(ap, void *));
  }
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int r = fcntl_common(real_fcntl_fn(), fd, cmd, ap);
  va_end(ap);
  return r;
}
int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int r = fcntl_common(next_sym("fcntl64") ? (__typeof__(real_fcntl)) next_sym("fcntl64") : real_fcntl_fn(), fd, cmd, ap);
  va_end(ap);
  return r;
}

/*
 * Ring buffers: the server makes a file per buffer in its private directory and writes the
 * records there; the shim maps that file MAP_SHARED where the caller asked, so the caller
 * reads data_head and writes data_tail in the same pages the server sees.
 */
struct rb_map {
  void *addr;
  size_t len;
  int handle;
};
static struct rb_map *rb_maps;
static size_t rb_nmaps, rb_cap;
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

static void *model_mmap(void *a, size_t n, int prot, int flags, int h, off_t off) {
  /* mmap(2)'s own checks come before the driver's. */
  if (n == 0 || (off & (PAGE - 1))) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  struct {
    int32_t h;
    uint32_t prot, flags, zero;
    uint64_t len, pgoff;
  } req = {h, (uint32_t)prot, (uint32_t)flags, 0, n, (uint64_t)off / PAGE};
  char path[PATH_MAX];
  memset(path, 0, sizeof path);
  int64_t r = call(OP_MMAP, &req, sizeof req, NULL, 0, path, sizeof path - 1);
  if (r < 0) {
    errno = (int)-r;
    return MAP_FAILED;
  }
  int32_t hh = h;
  int fd = REAL(open)(path, O_RDWR | O_CLOEXEC);
  void *p = fd >= 0 ? REAL(mmap)(a, n, prot, flags, fd, 0) : MAP_FAILED;
  int e = errno;
  if (fd >= 0) REAL(close)(fd);
  pthread_mutex_lock(&map_lock);
  if (p != MAP_FAILED && rb_nmaps == rb_cap) {
    size_t cap = rb_cap ? rb_cap * 2 : 64;
    struct rb_map *m = realloc(rb_maps, cap * sizeof *m);
    if (m) rb_maps = m, rb_cap = cap;
  }
  if (p != MAP_FAILED && rb_nmaps < rb_cap)
    rb_maps[rb_nmaps++] = (struct rb_map){p, (n + PAGE - 1) & ~(size_t)(PAGE - 1), h};
  pthread_mutex_unlock(&map_lock);
  if (p == MAP_FAILED) {
    oneway(OP_MUNMAP, &hh, sizeof hh);
    errno = e;
  }
  return p;
}

void *mmap(void *a, size_t n, int p, int f, int fd, off_t o) {
  int h = handle_of(fd);
  return h >= 0 ? model_mmap(a, n, p, f, h, o) : REAL(mmap)(a, n, p, f, fd, o);
}
void *mmap64(void *a, size_t n, int p, int f, int fd, off_t o) {
  int h = handle_of(fd);
  return h >= 0 ? model_mmap(a, n, p, f, h, o) : REAL(mmap64)(a, n, p, f, fd, o);
}

int munmap(void *a, size_t n) {
  int r = REAL(munmap)(a, n);
  if (r != 0 || !rb_nmaps) return r;
  int h = -1;
  pthread_mutex_lock(&map_lock);
  for (size_t i = 0; i < rb_nmaps; i++)
    if (rb_maps[i].addr == a) {
      h = rb_maps[i].handle;
      rb_maps[i] = rb_maps[--rb_nmaps];
      break;
    }
  pthread_mutex_unlock(&map_lock);
  if (h >= 0 && is_active()) {
    int32_t hh = h;
    oneway(OP_MUNMAP, &hh, sizeof hh);
  }
  return r;
}

/* Has the buffer behind handle h unread data (data_head != data_tail in its user page)? */
static int mapped_readable(int h) {
  int ready = 0;
  pthread_mutex_lock(&map_lock);
  for (size_t i = 0; i < rb_nmaps && !ready; i++)
    if (rb_maps[i].handle == h) {
      const volatile uint64_t *page = rb_maps[i].addr;
      ready = page[1024 / 8] != page[1032 / 8];
    }
  pthread_mutex_unlock(&map_lock);
  return ready;
}

/* ---- simulated time ---- */
static uint64_t model_now(void) {
  return clock_page ? clock_page[0] : 0;
}

static int model_clock(clockid_t c) {
  return sim_time && clock_page &&
         (c == CLOCK_MONOTONIC || c == CLOCK_MONOTONIC_RAW || c == CLOCK_MONOTONIC_COARSE ||
          c == CLOCK_BOOTTIME || c == CLOCK_REALTIME || c == CLOCK_REALTIME_COARSE ||
          c == CLOCK_TAI);
}

static uint64_t clock_value(clockid_t c) {
  uint64_t t = model_now();
  if (c == CLOCK_REALTIME || c == CLOCK_REALTIME_COARSE || c == CLOCK_TAI) t += clock_page[1];
  return t;
}

int clock_gettime(clockid_t c, struct timespec *ts) {
  if (!is_active() || !model_clock(c)) return REAL(clock_gettime)(c, ts);
  uint64_t t = clock_value(c);
  ts->tv_sec = (time_t)(t / 1000000000u);
  ts->tv_nsec = (long)(t % 1000000000u);
  return 0;
}

int gettimeofday(struct timeval *tv, void *tz) {
  if (!is_active() || !model_clock(CLOCK_REALTIME)) return REAL(gettimeofday)(tv, tz);
  uint64_t t = clock_value(CLOCK_REALTIME);
  tv->tv_sec = (time_t)(t / 1000000000u);
  tv->tv_usec = (suseconds_t)(t % 1000000000u / 1000u);
  return 0;
}

time_t time(time_t *out) {
  if (!is_active() || !model_clock(CLOCK_REALTIME)) return REAL(time)(out);
  time_t t = (time_t)(clock_value(CLOCK_REALTIME) / 1000000000u);
  if (out) *out = t;
  return t;
}

/* Would a SIGCHLD interrupt this process's sleep (a handler installed, signal not blocked)? */
static int sigchld_interrupts(const sigset_t *mask) {
  struct sigaction sa;
  if (sigaction(SIGCHLD, NULL, &sa) || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
    return 0;
  sigset_t cur;
  if (mask) cur = *mask;
  else if (pthread_sigmask(SIG_BLOCK, NULL, &cur)) return 0;
  return !sigismember(&cur, SIGCHLD);
}

/*
 * Sleeps in model time until `until` (model ns): the server wakes this process when the
 * model gets there (or at once with -EINTR when a child exits and SIGCHLD would interrupt
 * it). Real descriptors in `fds` (poll) end the sleep when ready. Returns 0 when the time
 * came, -EINTR when interrupted, 1 when a real fd became ready, -EIO without a server.
 */
static int model_sleep(uint64_t until, struct pollfd *fds, nfds_t nfds, const sigset_t *mask) {
  uint32_t req[3];
  memcpy(req, &until, 8);
  req[2] = sigchld_interrupts(mask) ? SLEEP_SIGCHLD : 0;
  pthread_mutex_lock(&lock);
  if (connect_server(0) || send_msg(OP_SLEEP, req, sizeof req, NULL, 0)) {
    pthread_mutex_unlock(&lock);
    return -EIO;
  }
  struct pollfd local[17];
  struct pollfd *w = nfds + 1 <= 17 ? local : malloc((nfds + 1) * sizeof *w);
  if (!w) w = local, nfds = 0;
  w[0] = (struct pollfd){.fd = sock, .events = POLLIN};
  for (nfds_t i = 0; i < nfds; i++) w[i + 1] = fds[i];
  int result = 0;
  for (;;) {
    int r = REAL(ppoll)(w, nfds + 1, NULL, mask);
    if (r < 0 && errno != EINTR) continue;
    int ready_real = 0;
    for (nfds_t i = 0; r > 0 && i < nfds; i++) ready_real |= w[i + 1].revents != 0;
    if (r > 0 && (w[0].revents & (POLLIN | POLLHUP | POLLERR)) && !ready_real) break;
    /* A signal or a ready fd: ask the server to end the sleep, then take its reply. */
    result = r < 0 ? -EINTR : 1;
    uint32_t none = 0;
    if (send_msg(OP_CANCEL, &none, 0, NULL, 0)) {
      result = -EIO;
      goto out;
    }
    break;
  }
  struct reply rep;
  if (recv_reply(&rep, NULL, 0)) result = -EIO;
  else if (result == 0 && rep.ret < 0) result = (int)rep.ret;
out:
  if (w != local) free(w);
  pthread_mutex_unlock(&lock);
  return result;
}

static uint64_t ts_ns(const struct timespec *t) {
  return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static void remaining(struct timespec *rem, uint64_t until) {
  if (!rem) return;
  uint64_t now = model_now();
  uint64_t left = until > now ? until - now : 0;
  rem->tv_sec = (time_t)(left / 1000000000u);
  rem->tv_nsec = (long)(left % 1000000000u);
}

/* Relative or absolute sleep on a model clock; returns 0 or an errno (clock_nanosleep style). */
static int sleep_on(clockid_t c, int flags, const struct timespec *req, struct timespec *rem) {
  if (!req || req->tv_nsec < 0 || req->tv_nsec >= 1000000000 || req->tv_sec < 0) return EINVAL;
  uint64_t until = ts_ns(req);
  if (flags & TIMER_ABSTIME) {
    uint64_t base = clock_value(c) - model_now();
    until = until > base ? until - base : 0;
  } else {
    until += model_now();
  }
  int r = model_sleep(until, NULL, 0, NULL);
  if (r == -EINTR) {
    if (!(flags & TIMER_ABSTIME)) remaining(rem, until);
    return EINTR;
  }
  return r < 0 ? -r : 0;
}

int clock_nanosleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem) {
  if (!is_active() || !model_clock(c)) return REAL(clock_nanosleep)(c, flags, req, rem);
  return sleep_on(c, flags, req, rem);
}

int nanosleep(const struct timespec *req, struct timespec *rem) {
  if (!is_active() || !model_clock(CLOCK_MONOTONIC)) return REAL(nanosleep)(req, rem);
  int e = sleep_on(CLOCK_MONOTONIC, 0, req, rem);
  if (e) {
    errno = e;
    return -1;
  }
  return 0;
}

int usleep(useconds_t us) {
  if (!is_active() || !model_clock(CLOCK_MONOTONIC)) return REAL(usleep)(us);
  struct timespec t = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000};
  int e = sleep_on(CLOCK_MONOTONIC, 0, &t, NULL);
  if (e) {
    errno = e;
    return -1;
  }
  return 0;
}

unsigned int sleep(unsigned int s) {
  if (!is_active() || !model_clock(CLOCK_MONOTONIC)) return REAL(sleep)(s);
  struct timespec t = {.tv_sec = s}, rem = {0};
  if (sleep_on(CLOCK_MONOTONIC, 0, &t, &rem) == EINTR)
    return (unsigned int)rem.tv_sec + (rem.tv_nsec > 0);
  return 0;
}

/* Tells the server this process waits in the kernel (not on the model) for a while. */
static void blocked(pid_t on) {
  if (!is_active() || !sim_time) return;
  int32_t p = on;
  oneway(OP_BLOCK, &p, sizeof p);
}
static void unblocked(void) {
  if (!is_active() || !sim_time) return;
  oneway(OP_UNBLOCK, NULL, 0);
}

/* A copy of fds with the model's descriptors blanked (poll ignores fd -1). */
static struct pollfd *real_only(struct pollfd *fds, nfds_t n, struct pollfd *local, size_t cap) {
  struct pollfd *c = n <= cap ? local : malloc(n * sizeof *c);
  if (!c) return NULL;
  for (nfds_t i = 0; i < n; i++) {
    c[i] = fds[i];
    c[i].revents = 0;
    if (handle_of(fds[i].fd) >= 0) c[i].fd = -1;
  }
  return c;
}

/*
 * poll(2) from a thread other than the main one (perf record's side-band thread): the main
 * thread may be waiting on the connection, so this one looks at the mapped buffers itself
 * (unread data is POLLIN) and waits at most 10 ms of wall time; its caller polls again.
 */
static int thread_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *mask) {
  struct pollfd local[64];
  struct pollfd *c = real_only(fds, n, local, 64);
  if (!c) {
    errno = ENOMEM;
    return -1;
  }
  int ready = 0;
  for (nfds_t i = 0; i < n; i++) {
    int h = handle_of(fds[i].fd);
    if (h >= 0 && mapped_readable(h)) ready = 1;
  }
  int64_t slice = ready ? 0 : timeout_ns < 0 || timeout_ns > 10000000 ? 10000000 : timeout_ns;
  struct timespec ts = {0, (long)slice};
  int r = REAL(ppoll)(c, n, &ts, mask);
  if (r < 0) {
    if (c != local) free(c);
    return r;
  }
  r = 0;
  for (nfds_t i = 0; i < n; i++) {
    int h = handle_of(fds[i].fd);
    fds[i].revents = h >= 0 ? (mapped_readable(h) ? POLLIN & fds[i].events : 0) : c[i].revents;
    r += fds[i].revents != 0;
  }
  if (c != local) free(c);
  return r;
}

/*
 * poll(2) with model fds in the main thread: the server answers for them (kernel:
 * perf_poll(): POLLIN once per ring buffer wakeup, POLLHUP for an event without a buffer or
 * that exited) and, in simulated time, keeps the timeout in model time; real fds in the set
 * end the wait when ready.
 */
static int main_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *mask) {
  struct pollfd local[64];
  struct pollfd *c = real_only(fds, n, local, 64);
  uint32_t nm = 0;
  for (nfds_t i = 0; i < n; i++) nm += handle_of(fds[i].fd) >= 0;
  uint32_t *req = malloc(16 + 8 * (size_t)nm);
  uint32_t *rev = calloc(nm ? nm : 1, 4);
  if (!c || !req || !rev) {
    if (c != local) free(c);
    free(req);
    free(rev);
    errno = ENOMEM;
    return -1;
  }
  int result = -1, err = 0;
  int rr = REAL(poll)(c, n, 0);
  if (rr < 0) {
    err = errno;
    goto done;
  }
  uint64_t until = rr > 0 || timeout_ns == 0        ? 0
                   : !sim_time || timeout_ns < 0 ? UINT64_MAX
                                                 : model_now() + (uint64_t)timeout_ns;
  memcpy(req, &until, 8);
  req[2] = sigchld_interrupts(mask) ? SLEEP_SIGCHLD : 0;
  req[3] = nm;
  for (nfds_t i = 0, k = 0; i < n; i++) {
    int h = handle_of(fds[i].fd);
    if (h < 0) continue;
    req[4 + 2 * k] = (uint32_t)h;
    req[5 + 2 * k] = (uint32_t)(uint16_t)fds[i].events;
    k++;
  }
  int interrupted = 0;
  struct reply rep = {0};
  pthread_mutex_lock(&lock);
  if (connect_server(0) || send_msg(OP_POLL, req, 16 + 8 * (size_t)nm, NULL, 0)) {
    pthread_mutex_unlock(&lock);
    err = EIO;
    goto done;
  }
  if (until != 0) {
    struct pollfd wl[65];
    struct pollfd *w = n + 1 <= 65 ? wl : malloc((n + 1) * sizeof *w);
    if (!w) w = wl, n = 0;
    w[0] = (struct pollfd){.fd = sock, .events = POLLIN};
    for (nfds_t i = 0; i < n; i++) w[i + 1] = c[i];
    /* In wall-clock time the timeout is the real one; in simulated time the server's. */
    struct timespec ts, *tp = NULL;
    if (!sim_time && timeout_ns >= 0) {
      ts = (struct timespec){(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
      tp = &ts;
    }
    int r = REAL(ppoll)(w, n + 1, tp, mask);
    int ready_real = 0;
    for (nfds_t i = 0; r > 0 && i < n; i++) ready_real |= w[i + 1].revents != 0;
    if (!(r > 0 && (w[0].revents & (POLLIN | POLLHUP | POLLERR)) && !ready_real)) {
      /* A signal, a ready real fd or the real timeout: end the server's wait, take its reply. */
      interrupted = r < 0;
      if (send_msg(OP_CANCEL, NULL, 0, NULL, 0)) {
        pthread_mutex_unlock(&lock);
        if (w != wl) free(w);
        err = EIO;
        goto done;
      }
    }
    if (w != wl) free(w);
  }
  int lost_conn = recv_reply(&rep, rev, 4 * (size_t)nm);
  pthread_mutex_unlock(&lock);
  if (lost_conn) {
    err = EIO;
    goto done;
  }
  if (rep.ret == -EINTR) interrupted = 1;
  else if (rep.ret < 0) {
    err = (int)-rep.ret;
    goto done;
  }
  rr = REAL(poll)(c, n, 0);
  result = 0;
  for (nfds_t i = 0, k = 0; i < n; i++) {
    if (handle_of(fds[i].fd) >= 0) fds[i].revents = rep.ret > 0 ? (short)rev[k] : 0, k++;
    else fds[i].revents = rr >= 0 ? c[i].revents : 0;
    result += fds[i].revents != 0;
  }
  if (result == 0 && interrupted) {
    result = -1;
    err = EINTR;
  }
done:
  if (c != local) free(c);
  free(req);
  free(rev);
  if (result < 0) errno = err;
  return result;
}

/*
 * poll(2). Model fds go to the server (main thread) or to the mapped buffers (other
 * threads). With no perf fd and a timeout, the wait is a model-time sleep that real fds
 * can end.
 */
static int poll_common(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *mask,
                       const struct timespec *tsp, int use_ppoll, int ms) {
  int ours = 0;
  for (nfds_t i = 0; i < n; i++) ours |= handle_of(fds[i].fd) >= 0;
  if (ours)
    return gettid() == getpid() ? main_poll(fds, n, timeout_ns, mask)
                                : thread_poll(fds, n, timeout_ns, mask);
  if (!sim_time || timeout_ns == 0) goto real;
  if (timeout_ns < 0) {
    blocked(0);
    int r = use_ppoll ? REAL(ppoll)(fds, n, tsp, mask) : REAL(poll)(fds, n, ms);
    int e = errno;
    unblocked();
    errno = e;
    return r;
  }
  {
    int r = model_sleep(model_now() + (uint64_t)timeout_ns, fds, n, mask);
    if (r == 0) {
      for (nfds_t i = 0; i < n; i++) fds[i].revents = 0;
      return 0;
    }
    if (r == -EINTR || r == -EIO) {
      errno = -r;
      return -1;
    }
    return REAL(poll)(fds, n, 0);
  }
real:
  return use_ppoll ? REAL(ppoll)(fds, n, tsp, mask) : REAL(poll)(fds, n, ms);
}

int poll(struct pollfd *fds, nfds_t n, int ms) {
  if (!is_active()) return REAL(poll)(fds, n, ms);
  return poll_common(fds, n, ms < 0 ? -1 : (int64_t)ms * 1000000, NULL, NULL, 0, ms);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask) {
  if (!is_active()) return REAL(ppoll)(fds, n, t, mask);
  return poll_common(fds, n, t ? (int64_t)ts_ns(t) : -1, mask, t, 1, 0);
}

int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv) {
  if (!is_active() || !sim_time) return REAL(select)(n, r, w, e, tv);
  if (n == 0 && tv) {
    uint64_t ns = (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u;
    if (ns == 0) return 0;
    int res = model_sleep(model_now() + ns, NULL, 0, NULL);
    if (res < 0) {
      errno = -res;
      return -1;
    }
    tv->tv_sec = 0;
    tv->tv_usec = 0;
    return 0;
  }
  if (!tv) blocked(0);
  int res = REAL(select)(n, r, w, e, tv);
  int err = errno;
  if (!tv) unblocked();
  errno = err;
  return res;
}

/* ---- processes ---- */
static void forked(pid_t child) {
  if (child <= 0 || !is_active() || !sim_time) return;
  int32_t c = child;
  oneway(OP_FORKED, &c, sizeof c);
}

pid_t fork(void) {
  pid_t p = REAL(fork)();
  if (p > 0) forked(p);
  return p;
}

/*
 * vfork() is a fork() here (POSIX allows it): a wrapper cannot return twice on a shared
 * stack, and the parent must report the child before it waits (dash runs commands so).
 */
pid_t vfork(void) {
  return fork();
}

/* The model's CPU time of a traced task, in the rusage wait4() returns (simulated time). */
static void model_rusage(pid_t pid, struct rusage *ru) {
  if (!ru || pid <= 0 || !is_active() || !sim_time) return;
  int32_t p = pid;
  uint64_t t[2] = {0, 0};
  if (call(OP_RUSAGE, &p, sizeof p, NULL, 0, t, sizeof t) < 0) return;
  ru->ru_utime.tv_sec = (time_t)(t[0] / 1000000000u);
  ru->ru_utime.tv_usec = (suseconds_t)(t[0] % 1000000000u / 1000u);
  ru->ru_stime.tv_sec = (time_t)(t[1] / 1000000000u);
  ru->ru_stime.tv_usec = (suseconds_t)(t[1] % 1000000000u / 1000u);
}

pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
  int blocking = !(options & WNOHANG);
  if (blocking) blocked(pid);
  pid_t r = REAL(wait4)(pid, status, options, ru);
  int e = errno;
  if (blocking) unblocked();
  if (r > 0) model_rusage(r, ru);
  errno = e;
  return r;
}
pid_t wait3(int *status, int options, struct rusage *ru) {
  return wait4(-1, status, options, ru);
}
pid_t waitpid(pid_t pid, int *status, int options) {
  int blocking = !(options & WNOHANG);
  if (blocking) blocked(pid);
  pid_t r = REAL(waitpid)(pid, status, options);
  int e = errno;
  if (blocking) unblocked();
  errno = e;
  return r;
}
pid_t wait(int *status) {
  return waitpid(-1, status, 0);
}
int waitid(idtype_t t, id_t id, siginfo_t *info, int options) {
  int blocking = !(options & WNOHANG);
  if (blocking) blocked(t == P_PID ? (pid_t)id : -1);
  int r = REAL(waitid)(t, id, info, options);
  int e = errno;
  if (blocking) unblocked();
  errno = e;
  return r;
}

/* ---- exec: keep the shim in the environment, and say when it cannot follow ---- */

/* The file execvp() would run. */
static const char *search_path(const char *file, char *buf) {
  if (strchr(file, '/')) return file;
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  for (const char *p = path;; p = strchr(p, ':') + 1) {
    const char *end = strchr(p, ':');
    size_t l = end ? (size_t)(end - p) : strlen(p);
    snprintf(buf, PATH_MAX, "%.*s/%s", (int)l, l ? p : ".", file);
    if (REAL(access)(buf, X_OK) == 0) return buf;
    if (!end) break;
  }
  return file;
}

/* An ELF executable with no PT_INTERP is linked statically: LD_PRELOAD never reaches it. */
static int is_static_elf(const char *path) {
  int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  Elf64_Ehdr eh;
  int res = 0;
  if (REAL(pread)(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && !memcmp(eh.e_ident, ELFMAG, 4) &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) &&
      eh.e_phnum < 512) {
    res = 1;
    for (int i = 0; i < eh.e_phnum; i++) {
      Elf64_Phdr ph;
      if (REAL(pread)(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
          (ssize_t)sizeof ph)
        break;
      if (ph.p_type == PT_INTERP) {
        res = 0;
        break;
      }
    }
  }
  REAL(close)(fd);
  return res;
}

static void check_static(const char *path) {
  if (!is_active() || !is_static_elf(path)) return;
  char msg[PATH_MAX + 200];
  int n = snprintf(msg, sizeof msg,
                   "vpmu-preload: %s is statically linked: the preload shim cannot interpose it "
                   "(its clocks, sleeps and perf_event_open are not the model's)\n",
                   path);
  ssize_t w = REAL(write)(2, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : 0);
  (void)w;
}

/* envp with LD_PRELOAD and the VPMU_* variables put back if a caller dropped them. */
static char **with_shim_env(char *const envp[]) {
  static const char *keys[] = {"VPMU_SOCK", "VPMU_ROOT", "VPMU_CLOCK", "VPMU_TIME",
                               "VPMU_REWRITE", "VPMU_PRELOAD", "VPMU_NR_CPUS", NULL};
  if (!is_active() || !preload_path) return (char **)envp;
  size_t n = 0;
  int has[8] = {0}, has_preload = 0;
  for (; envp && envp[n]; n++) {
    for (int k = 0; keys[k]; k++) {
      size_t l = strlen(keys[k]);
      if (!strncmp(envp[n], keys[k], l) && envp[n][l] == '=') has[k] = 1;
    }
    if (!strncmp(envp[n], "LD_PRELOAD=", 11) && strstr(envp[n], preload_path)) has_preload = 1;
  }
  int missing = !has_preload;
  for (int k = 0; keys[k]; k++) missing |= !has[k] && getenv(keys[k]);
  if (!missing) return (char **)envp;
  char **out = calloc(n + 10, sizeof *out);
  if (!out) return (char **)envp;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (has_preload || strncmp(envp[i], "LD_PRELOAD=", 11)) out[m++] = envp[i];
  for (int k = 0; keys[k]; k++) {
    const char *v = getenv(keys[k]);
    if (has[k] || !v) continue;
    size_t l = strlen(keys[k]) + strlen(v) + 2;
    out[m] = malloc(l);
    if (out[m]) snprintf(out[m++], l, "%s=%s", keys[k], v);
  }
  if (!has_preload) {
    const char *old = getenv("LD_PRELOAD");
    size_t l = strlen(preload_path) + (old ? strlen(old) : 0) + 13;
    out[m] = malloc(l);
    if (out[m])
      snprintf(out[m++], l, "LD_PRELOAD=%s%s%s", preload_path, old && *old ? ":" : "",
               old && strstr(old, preload_path) == NULL ? old : "");
  }
  out[m] = NULL;
  return out;
}

int execve(const char *path, char *const argv[], char *const envp[]) {
  check_static(path);
  return REAL(execve)(path, argv, with_shim_env(envp));
}
int execv(const char *path, char *const argv[]) {
  return execve(path, argv, environ);
}
int execvpe(const char *file, char *const argv[], char *const envp[]) {
  char buf[PATH_MAX];
  check_static(search_path(file, buf));
  return REAL(execvpe)(file, argv, with_shim_env(envp));
}
int execvp(const char *file, char *const argv[]) {
  return execvpe(file, argv, environ);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *at, char *const argv[], char *const envp[]) {
  check_static(path);
  pid_t local;
  pid_t *out = pid ? pid : &local;
  int r = REAL(posix_spawn)(out, path, fa, at, argv, with_shim_env(envp));
  if (r == 0) forked(*out);
  return r;
}
int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *at, char *const argv[], char *const envp[]) {
  char buf[PATH_MAX];
  check_static(search_path(file, buf));
  pid_t local;
  pid_t *out = pid ? pid : &local;
  int r = REAL(posix_spawnp)(out, file, fa, at, argv, with_shim_env(envp));
  if (r == 0) forked(*out);
  return r;
}

/* ---- the simulated host's CPU count ---- */
long sysconf(int name) {
  if (is_active() && nr_cpus_model > 0 &&
      (name == _SC_NPROCESSORS_CONF || name == _SC_NPROCESSORS_ONLN))
    return nr_cpus_model;
  return REAL(sysconf)(name);
}
int get_nprocs(void) {
  return is_active() && nr_cpus_model > 0 ? nr_cpus_model : REAL(get_nprocs)();
}
int get_nprocs_conf(void) {
  return is_active() && nr_cpus_model > 0 ? nr_cpus_model : REAL(get_nprocs_conf)();
}
