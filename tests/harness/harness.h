/*
 * harness.h — the test harness every test program includes.
 *
 * A test program is a list of TEST functions run by RUN() from main(). CHECK* macros record a
 * failure with its file and line and let the test go on; REQUIRE* record it and return from the
 * test. At the end, harness_finish() prints one machine-readable line
 *
 *     RESULT <program> passed=<n> failed=<n>
 *
 * which tests/harness/run.sh adds up into the final "N passed, N failed" line. A program that
 * dies before printing its RESULT line counts as one failure.
 *
 * Death tests (a case that must abort, e.g. termination on corruption) run in a forked child
 * with expect_child_death().
 */
#ifndef NTH_TEST_HARNESS_H
#define NTH_TEST_HARNESS_H

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A test that damages heap memory on purpose, to check ntheap's own detection, defines
 * HARNESS_CORRUPTS_ON_PURPOSE before including this header: in ASan builds ntheap poisons what a
 * caller must not touch (asan_poison, on by default), and ASan would stop the test first. */
#ifdef HARNESS_CORRUPTS_ON_PURPOSE
#include <ntheap.h>
__attribute__((constructor)) static void harness_corrupts_on_purpose(void)
{
    (void)nth_heap_set_option(NULL, NTH_OPTION_ASAN_POISON, 0);
}
#endif

/* HARNESS_UNDER_TSAN is 1 in a ThreadSanitizer build (gcc's macro, clang's feature test), for the
 * few checks its runtime changes (its own thread, no fork with threads, races reported first). */
#if defined(__SANITIZE_THREAD__)
#define HARNESS_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HARNESS_UNDER_TSAN 1
#endif
#endif
#ifndef HARNESS_UNDER_TSAN
#define HARNESS_UNDER_TSAN 0
#endif

static int harness_passed, harness_failed, harness_case_failed;
static const char *harness_current = "";

static inline void harness_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "  FAIL %s (%s:%d): %s\n", harness_current, file, line, what);
    harness_case_failed = 1;
}

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) harness_fail(__FILE__, __LINE__, #cond);                              \
    } while (0)

#define REQUIRE(cond)                                                                      \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            harness_fail(__FILE__, __LINE__, #cond);                                       \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        uintmax_t harness_a_ = (uintmax_t)(a), harness_b_ = (uintmax_t)(b);                \
        if (harness_a_ != harness_b_) {                                                    \
            char harness_msg_[256];                                                        \
            snprintf(harness_msg_, sizeof harness_msg_, "%s == %s (0x%jx != 0x%jx)", #a,   \
                     #b, harness_a_, harness_b_);                                          \
            harness_fail(__FILE__, __LINE__, harness_msg_);                                \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *harness_a_ = (a), *harness_b_ = (b);                                   \
        if (!harness_a_ || !harness_b_ || strcmp(harness_a_, harness_b_) != 0) {           \
            char harness_msg_[512];                                                        \
            snprintf(harness_msg_, sizeof harness_msg_, "%s == %s (\"%s\" != \"%s\")", #a, \
                     #b, harness_a_ ? harness_a_ : "(null)",                               \
                     harness_b_ ? harness_b_ : "(null)");                                  \
            harness_fail(__FILE__, __LINE__, harness_msg_);                                \
        }                                                                                  \
    } while (0)

static inline void harness_run(const char *name, void (*fn)(void))
{
    harness_current = name;
    harness_case_failed = 0;
    fn();
    if (harness_case_failed) {
        harness_failed++;
        fprintf(stderr, "not ok - %s\n", name);
    } else {
        harness_passed++;
        if (getenv("NTH_TEST_VERBOSE")) fprintf(stderr, "ok - %s\n", name);
    }
}

#define RUN(name) harness_run(#name, name)

static inline int harness_finish(const char *program)
{
    const char *slash = strrchr(program, '/');
    printf("RESULT %s passed=%d failed=%d\n", slash ? slash + 1 : program, harness_passed,
           harness_failed);
    fflush(stdout);
    return harness_failed ? 1 : 0;
}

/* Runs fn in a forked child and reports how it ended: the signal number if it was killed by
 * one, or 0 if it exited (its exit status in *exit_status; 1 when a CHECK or REQUIRE failed in
 * fn and fn returned). The child counts only its own failures. Its output is kept aside (shown as it comes with NTH_TEST_VERBOSE): the lines of
 * CHECKs that failed in it are repeated here, the rest (reports it provoked) is dropped. */
static inline int expect_child_death(void (*fn)(void), int *exit_status)
{
    bool verbose = getenv("NTH_TEST_VERBOSE") != NULL;
    FILE *kept = verbose ? NULL : tmpfile();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        harness_failed = harness_case_failed = 0;
        if (kept) dup2(fileno(kept), STDERR_FILENO);
        fn();
        _exit(harness_case_failed ? 1 : 0); /* a REQUIRE that returned from fn fails it too */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (kept) {
        char line[512];
        rewind(kept);
        while (fgets(line, sizeof line, kept))
            if (strncmp(line, "  FAIL ", 7) == 0) fprintf(stderr, "  (in the child)%s", line + 1);
        fclose(kept);
    }
    if (WIFSIGNALED(status)) return WTERMSIG(status);
    if (exit_status) *exit_status = WEXITSTATUS(status);
    return 0;
}

/* Deterministic pseudo-random numbers for model tests (xorshift64*). */
typedef struct { uint64_t state; } harness_rng;
static inline uint64_t harness_rand(harness_rng *rng)
{
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static inline uint64_t harness_rand_range(harness_rng *rng, uint64_t lo, uint64_t hi)
{
    return lo + harness_rand(rng) % (hi - lo + 1);
}

/* REQUIRE for helpers that return a value: a failed setup ends the program. */
#define MUST(cond)                                                                      \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  setup failed (%s:%d): %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

/* The process's mapped address space in bytes (/proc/self/statm), 0 if unreadable: the base
 * for an RLIMIT_AS that leaves a known amount of room. */
static inline size_t harness_address_space_in_use(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    size_t pages = 0;
    if (f) {
        if (fscanf(f, "%zu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

#endif
