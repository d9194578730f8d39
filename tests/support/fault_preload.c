// LD_PRELOAD fault injection for the daemon's crash tests: real system calls fail the way a full
// or read-only disk makes them fail, without root or a special file system.
//
//   TRADINGD_FAULT_DISK_FULL_IF=PATH   while PATH exists, pwrite and posix_fallocate on journal
//                                      segments fail with ENOSPC (a disk that fills up mid-run)
//   TRADINGD_FAULT_READONLY_DIR=DIR    opening anything under DIR for writing or creating fails
//                                      with EROFS (a read-only mount), as does mkdir there
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static int is_journal_segment(int fd) {
    char link[64];
    char path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    return strstr(path, "/journal/segment-") != NULL;
}

static int disk_full(int fd) {
    const char* trigger = getenv("TRADINGD_FAULT_DISK_FULL_IF");
    struct stat st;
    return trigger != NULL && stat(trigger, &st) == 0 && is_journal_segment(fd);
}

static int read_only(const char* path, int flags) {
    const char* dir = getenv("TRADINGD_FAULT_READONLY_DIR");
    if (dir == NULL || path == NULL) return 0;
    if ((flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) == 0) return 0;
    return strncmp(path, dir, strlen(dir)) == 0;
}

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
    if (disk_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("pwrite", ssize_t (*)(int, const void*, size_t, off_t))(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
    if (disk_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("pwrite64", ssize_t (*)(int, const void*, size_t, off_t))(fd, buf, n, off);
}

int posix_fallocate(int fd, off_t off, off_t len) {
    if (disk_full(fd)) return ENOSPC;
    return REAL("posix_fallocate", int (*)(int, off_t, off_t))(fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len) {
    if (disk_full(fd)) return ENOSPC;
    return REAL("posix_fallocate64", int (*)(int, off_t, off_t))(fd, off, len);
}

static int open_common(const char* name, int dirfd, const char* path, int flags, mode_t mode) {
    if (read_only(path, flags)) {
        errno = EROFS;
        return -1;
    }
    if (dirfd == -1) return REAL(name, int (*)(const char*, int, mode_t))(path, flags, mode);
    return REAL(name, int (*)(int, const char*, int, mode_t))(dirfd, path, flags, mode);
}

int open(const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return open_common("open", -1, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return open_common("open64", -1, path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return open_common("openat", dirfd, path, flags, mode);
}

int mkdir(const char* path, mode_t mode) {
    if (read_only(path, O_CREAT)) {
        errno = EROFS;
        return -1;
    }
    return REAL("mkdir", int (*)(const char*, mode_t))(path, mode);
}

// TRADINGD_FAULT_CLOCK_OFFSET_FILE=PATH: the wall clock (CLOCK_REALTIME, time, gettimeofday) is
// shifted by the number of seconds written in PATH (re-read at most every 50 ms), so a test can
// step it back or forward while the daemon runs, as an NTP step or an operator would. The
// monotonic clock is left alone.
#include <sys/time.h>
#include <time.h>

static long clock_offset_seconds(void) {
    static long offset = 0;
    static struct timespec last_read = {0, 0};
    const char* path = getenv("TRADINGD_FAULT_CLOCK_OFFSET_FILE");
    if (path == NULL) return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const long elapsed_ms =
        (now.tv_sec - last_read.tv_sec) * 1000 + (now.tv_nsec - last_read.tv_nsec) / 1000000;
    if (elapsed_ms >= 50) {
        last_read = now;
        FILE* f = fopen(path, "r");
        if (f != NULL) {
            long v = 0;
            if (fscanf(f, "%ld", &v) == 1) offset = v;
            fclose(f);
        }
    }
    return offset;
}

typedef int (*clock_gettime_fn)(clockid_t, struct timespec*);

int clock_gettime(clockid_t id, struct timespec* ts) {
    // Cached: steady_clock calls this on hot paths; dlsym each time would distort timings.
    static clock_gettime_fn real = NULL;
    if (real == NULL) real = REAL("clock_gettime", clock_gettime_fn);
    const int rc = real(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE) &&
        getenv("TRADINGD_FAULT_CLOCK_OFFSET_FILE") != NULL) {
        ts->tv_sec += clock_offset_seconds();
    }
    return rc;
}

int gettimeofday(struct timeval* tv, void* tz) {
    const int rc = REAL("gettimeofday", int (*)(struct timeval*, void*))(tv, tz);
    if (rc == 0 && tv != NULL) tv->tv_sec += clock_offset_seconds();
    return rc;
}

time_t time(time_t* out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) *out = ts.tv_sec;
    return ts.tv_sec;
}
