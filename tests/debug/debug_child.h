/*
 * debug_child.h — runs one debug-heap scenario in a forked child and hands back how it ended and
 * everything it wrote to stderr, so a test can make a heap bug happen for real (a fault, an
 * abort, a report at exit) and then check the report's block address, size and kind.
 *
 * Debug modes are process-wide defaults read when a heap is created, so each child sets the
 * options it needs (nth_heap_set_option(NULL, ...)) and creates its own heap; the parent's
 * defaults never change.
 *
 * The allocating functions are non-static and never inlined, and the tests are linked with
 * -rdynamic (Makefile: TEST_CFLAGS_debug), so dladdr names them in stacks.
 */
#ifndef NTH_TEST_DEBUG_CHILD_H
#define NTH_TEST_DEBUG_CHILD_H

#include <fcntl.h>
#include <sys/resource.h>

#include "harness/harness.h"
#include "ntheap.h"

typedef struct child_result {
    int status;       /* waitpid status */
    char err[65536];  /* the child's stderr, NUL-terminated (truncated if longer) */
    void *block;      /* the address the child announced with announce() */
} child_result;

/* Called by a child: tells the parent which block the scenario is about. */
static inline void announce(const void *block)
{
    fprintf(stderr, "BLOCK=%p\n", block);
    fflush(stderr);
}

static inline bool child_ran(child_result *r, void (*scenario)(void))
{
    int fds[2];
    if (pipe(fds) != 0) return false;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core); /* the default action still runs; no core file here */
        alarm(20);
        scenario();
        fflush(stderr);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    for (ssize_t n; (n = read(fds[0], r->err + len, sizeof r->err - 1 - len)) > 0;) len += (size_t)n;
    r->err[len] = '\0';
    close(fds[0]);
    waitpid(pid, &r->status, 0);
    r->block = NULL;
    const char *b = strstr(r->err, "BLOCK=");
    if (b) sscanf(b + 6, "%p", &r->block);
    return true;
}

static inline bool died_by(const child_result *r, int sig)
{
    return WIFSIGNALED(r->status) && WTERMSIG(r->status) == sig;
}

static inline bool exited_ok(const child_result *r)
{
    return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

/* The report line "... (heap H, ADDR): NAME: ..." for the given address and error name. */
static inline bool reported(const child_result *r, const void *address, const char *error_name)
{
    char want[128];
    snprintf(want, sizeof want, ", %p): %s:", address, error_name);
    return strstr(r->err, want) != NULL;
}

static inline bool says(const child_result *r, const char *text)
{
    return strstr(r->err, text) != NULL;
}

/* Prints the child's output when a check failed, so a failure explains itself. */
static inline void show_on_failure(const child_result *r)
{
    if (harness_case_failed) fprintf(stderr, "  child status 0x%x, its stderr:\n%s\n", r->status, r->err);
}

#endif
