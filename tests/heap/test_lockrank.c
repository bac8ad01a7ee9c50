/*
 * test_lockrank.c — the debug build's precondition checks (make check DEBUG=1): a lock taken
 * against the rank order (registry < heap < cache < address map) aborts at the first acquire
 * with a message naming both locks, and nth_assert_held aborts in a *_locked function called
 * without the heap lock. Each case runs in a child. In a build without NTH_DEBUG the checks are
 * compiled out, and the program says so on a SKIP line.
 */
#include <fcntl.h>

#include "harness/harness.h"
#include "heap/internal.h"
#include "ntheap.h"

/* Runs fn in a child; returns the signal that ended it (0 if it exited) and its stderr. */
static int run_child(void (*fn)(void), char *err, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < size && (got = read(fds[0], err + n, size - 1 - n)) > 0) n += (size_t)got;
    err[n] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static nth_heap *heap;

/* Address-map lock (rank 4), then a heap lock (rank 2): an inversion. */
static void heap_lock_under_map_lock(void)
{
    nth_addrmap_fork_prepare();
    nth_heap_lock(heap);
}

/* A heap lock held by the user, then a call that takes the registry lock (rank 1). */
static void registry_under_heap_lock(void)
{
    nth_heap_lock(heap);
    (void)nth_heap_list(NULL, 0);
}

/* The right order, and re-entry of a held heap lock, pass. */
static void order_kept(void)
{
    nth_heap_lock(heap);
    nth_heap_lock(heap);
    void *p = nth_heap_alloc(heap, 0, 100);
    nth_heap_free(heap, 0, p);
    nth_heap_unlock(heap);
    nth_heap_unlock(heap);
}

static void locked_function_without_lock(void)
{
    nth_assert_held(heap);
}

static void locked_function_with_lock(void)
{
    nth_heap_lock(heap);
    nth_assert_held(heap);
    nth_heap_unlock(heap);
}

TEST(inversion_aborts_at_first_acquire)
{
    char err[1024];
    CHECK_EQ(run_child(heap_lock_under_map_lock, err, sizeof err), SIGABRT);
    CHECK(strstr(err, "lock order violated: acquiring the heap lock (rank 2) while holding the address-map "
                      "lock (rank 4)") != NULL);
    CHECK_EQ(run_child(registry_under_heap_lock, err, sizeof err), SIGABRT);
    CHECK(strstr(err, "acquiring the registry lock (rank 1) while holding the heap lock (rank 2)") != NULL);
    CHECK_EQ(run_child(order_kept, err, sizeof err), 0);
}

TEST(locked_functions_check_the_lock)
{
    char err[1024];
    CHECK_EQ(run_child(locked_function_without_lock, err, sizeof err), SIGABRT);
    CHECK(strstr(err, "locked_function_without_lock: called without the lock of heap") != NULL);
    CHECK_EQ(run_child(locked_function_with_lock, err, sizeof err), 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (!NTH_DEBUG) {
        printf("SKIP lock ranks and nth_assert_held are checked only in DEBUG=1 builds\n");
        return harness_finish(argv[0]);
    }
    heap = nth_heap_create(0, 0, 0);
    if (!heap) return 1;
    RUN(inversion_aborts_at_first_acquire);
    RUN(locked_functions_check_the_lock);
    return harness_finish(argv[0]);
}
