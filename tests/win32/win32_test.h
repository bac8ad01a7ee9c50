/*
 * win32_test.h — helpers shared by the Win32-layer tests: quiet reporter, last-error priming,
 * whole-heap walks into an array, and running a function in a child with its stdout captured.
 */
#ifndef NTH_WIN32_TEST_H
#define NTH_WIN32_TEST_H

#include "harness/harness.h"

#include <windows.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* Reports are expected in misuse tests; count them instead of printing them. */
static int win32_test_reports;
static inline void win32_test_count_report(const nth_report *report, void *context)
{
    (void)report;
    (void)context;
    win32_test_reports++;
}
static inline void quiet_reports(void)
{
    if (!getenv("NTH_TEST_VERBOSE")) nth_set_report_handler(win32_test_count_report, NULL);
}

/* The value GetLastError must still hold when a call "leaves the last error untouched". */
#define PRIMED ((DWORD)0xDEADBEEF)
static inline void prime(void)
{
    SetLastError(PRIMED);
}

/* Walks the whole heap into `out` (up to `capacity` entries); returns the number of entries and
 * leaves the last error of the final call in *end_error. Entries are pre-filled with 0xCD, as
 * a caller's uninitialised structure would be. */
static inline size_t walk_all(HANDLE heap, PROCESS_HEAP_ENTRY *out, size_t capacity, DWORD *end_error)
{
    PROCESS_HEAP_ENTRY entry;
    memset(&entry, 0xCD, sizeof entry);
    entry.lpData = NULL;
    size_t n = 0;
    while (HeapWalk(heap, &entry)) {
        if (n < capacity) out[n] = entry;
        n++;
        if (n > 10000000) break;
    }
    if (end_error) *end_error = GetLastError();
    return n;
}

/* Runs fn in a forked child whose stdout goes into buf (NUL-terminated). Returns the child's
 * exit status, or 128 + signal if it was killed. */
static inline int capture_child(void (*fn)(void), char *buf, size_t capacity)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        if (!getenv("NTH_TEST_VERBOSE")) {
            FILE *null_err = freopen("/dev/null", "w", stderr);
            (void)null_err;
        }
        fn();
        fflush(NULL);
        _exit(0);
    }
    close(fds[1]);
    size_t used = 0;
    for (;;) {
        ssize_t got = read(fds[0], buf + used, capacity - 1 - used);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        used += (size_t)got;
        if (used == capacity - 1) {
            char sink[4096];
            while (read(fds[0], sink, sizeof sink) > 0) {}
            break;
        }
    }
    buf[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static inline void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

#endif
