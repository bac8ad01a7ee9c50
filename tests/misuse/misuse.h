/*
 * misuse.h — the machinery of the misuse table (tests/misuse/test_misuse*.c).
 *
 * A row is one deliberate misuse. It runs in a forked child with an alarm, so a crash, a hang or
 * an abort is caught and named instead of ending the table. The child tells the parent what went
 * wrong through a page shared before the fork:
 *
 *     parent                               child (one per row)
 *     mis_run_table --fork--------------->  alarm(timeout); setup (report handler)
 *        |                                  row function: MIS_STAGE("..."), mis_fail("...")
 *        |<-- shared page: stage, failure --'
 *        waitpid: exit 0 -> ok; exit 1 -> FAIL (failure text);
 *                 signal -> FAIL (signal during <stage>); SIGALRM/kill -> FAIL (hang during <stage>)
 *
 * Output: one line per row, `row N  <surface> <kind>: ok|FAIL (what happened)`, then the
 * harness's RESULT line (a failed row is a failed case). MISUSE_ROWS="3,17" runs only those rows.
 *
 * Reports: the child installs mis_report_handler (through whatever entry point the surface under
 * test uses) and every report lands in mis_reports[]; rows look them up by error and address.
 * The handler only copies (no allocation), as it runs with the heap lock held.
 *
 * Damage is written with mis_poke, which goes through the kernel (a pipe): a target that is not
 * mapped fails with EFAULT instead of faulting the test, and sanitizers do not see the write.
 */
#ifndef NTH_TEST_MISUSE_H
#define NTH_TEST_MISUSE_H

#include "harness/harness.h"

#include <errno.h>
#include <ntheap.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

/* ------------------------------------------------------------------------- shared page */

typedef struct mis_shared {
    char stage[200];
    char failure[1400];
    char skipped[200]; /* why the row could not run in this build */
} mis_shared;

static mis_shared *mis_page;

#define MIS_STAGE(text) mis_set_stage(text)

static inline void mis_set_stage(const char *text)
{
    size_t n = strlen(text);
    if (n >= sizeof mis_page->stage) n = sizeof mis_page->stage - 1;
    memcpy(mis_page->stage, text, n);
    mis_page->stage[n] = '\0';
}

/* Records one failure of the row (they are joined with "; "). */
__attribute__((format(printf, 1, 2))) static inline void mis_fail(const char *format, ...)
{
    char *out = mis_page->failure;
    size_t used = strlen(out), room = sizeof mis_page->failure - used;
    if (room < 8) return;
    if (used) {
        memcpy(out + used, "; ", 3);
        used += 2;
        room -= 2;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(out + used, room, format, args);
    va_end(args);
}

static inline bool mis_failed(void) { return mis_page->failure[0] != '\0'; }

/* Marks the row as not applicable to this build (printed as "skip", counted neither way). */
static inline void mis_skip(const char *why)
{
    snprintf(mis_page->skipped, sizeof mis_page->skipped, "%s", why);
}

/* ThreadSanitizer builds: a row whose misuse is itself a data race of the test program (two
 * threads freeing one block) is reported by the sanitizer, not by ntheap, so it is skipped. */
#define MIS_TSAN HARNESS_UNDER_TSAN

/* ------------------------------------------------------------------------------ reports */

#define MIS_MAX_REPORTS 64
typedef struct mis_report {
    nth_error error;
    const void *address;
    nth_heap *heap;
    char call[40];
    char message[240];
} mis_report;

static atomic_int mis_report_count;
static mis_report mis_reports[MIS_MAX_REPORTS];

static inline void mis_copy(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < size; i++) dst[i] = src[i];
    dst[i] = '\0';
}

static inline void mis_report_handler(const nth_report *report, void *context)
{
    (void)context;
    int i = atomic_fetch_add(&mis_report_count, 1);
    if (i >= MIS_MAX_REPORTS) return;
    mis_reports[i].error = report->error;
    mis_reports[i].address = report->address;
    mis_reports[i].heap = report->heap;
    mis_copy(mis_reports[i].call, sizeof mis_reports[i].call, report->call);
    mis_copy(mis_reports[i].message, sizeof mis_reports[i].message, report->message);
}

static inline int mis_mark(void) { return atomic_load(&mis_report_count); }
static inline int mis_reports_since(int mark) { return mis_mark() - mark; }

#define MIS_BIT(e) (1u << (e))
#define MIS_ANY_CORRUPTION                                                                     \
    (MIS_BIT(NTH_ERR_INVALID_POINTER) | MIS_BIT(NTH_ERR_DOUBLE_FREE) |                         \
     MIS_BIT(NTH_ERR_WRONG_HEAP) | MIS_BIT(NTH_ERR_CORRUPT))

static inline const char *mis_error_text(nth_error e)
{
    static const char *const names[] = {
        "NTH_OK", "NTH_ERR_NO_MEMORY", "NTH_ERR_INVALID_PARAMETER", "NTH_ERR_INVALID_HANDLE",
        "NTH_ERR_INVALID_POINTER", "NTH_ERR_DOUBLE_FREE", "NTH_ERR_WRONG_HEAP", "NTH_ERR_CORRUPT",
        "NTH_ERR_CANNOT_MOVE", "NTH_ERR_NO_MORE_ITEMS", "NTH_ERR_NOT_LOCKED", "NTH_ERR_NOT_SUPPORTED"};
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "?";
}

/* The first report since `mark` whose error is in `mask` and whose address lies in [lo, hi),
 * or NULL. */
static inline const mis_report *mis_find(int mark, unsigned mask, const void *lo, const void *hi)
{
    int end = mis_mark();
    if (end > MIS_MAX_REPORTS) end = MIS_MAX_REPORTS;
    for (int i = mark; i < end; i++) {
        const mis_report *r = &mis_reports[i];
        if (!(mask & MIS_BIT(r->error))) continue;
        if ((uintptr_t)r->address < (uintptr_t)lo || (uintptr_t)r->address >= (uintptr_t)hi) continue;
        return r;
    }
    return NULL;
}

static inline void mis_describe_reports(int mark, char *out, size_t size)
{
    int end = mis_mark();
    if (end == mark) {
        snprintf(out, size, "no report");
        return;
    }
    const mis_report *r = &mis_reports[mark < MIS_MAX_REPORTS ? mark : MIS_MAX_REPORTS - 1];
    snprintf(out, size, "%d report(s), first: %s at %p (%s)", end - mark, mis_error_text(r->error),
             r->address, r->message);
}

/* Requires a report since `mark` with an error in `mask` naming an address in [lo, hi). */
static inline const mis_report *mis_expect_report(int mark, unsigned mask, const void *lo,
                                                  const void *hi, const char *what)
{
    const mis_report *r = mis_find(mark, mask, lo, hi);
    if (!r) {
        char seen[400];
        mis_describe_reports(mark, seen, sizeof seen);
        mis_fail("%s: expected a report naming an address in [%p, %p), got %s", what, lo, hi, seen);
    }
    return r;
}

/* Any report since `mark` must name an address in [lo, hi) (optional reports of damage). */
static inline void mis_reports_near(int mark, const void *lo, const void *hi, const char *what)
{
    int end = mis_mark();
    if (end > MIS_MAX_REPORTS) end = MIS_MAX_REPORTS;
    for (int i = mark; i < end; i++)
        if ((uintptr_t)mis_reports[i].address < (uintptr_t)lo ||
            (uintptr_t)mis_reports[i].address >= (uintptr_t)hi) {
            mis_fail("%s: a report names %p, not the damaged memory [%p, %p): %s", what,
                     mis_reports[i].address, lo, hi, mis_reports[i].message);
            return;
        }
}

/* Every report since `mark` must name `call` (the call in progress). */
static inline void mis_reports_name(int mark, const char *call, const char *what)
{
    int end = mis_mark();
    if (end > MIS_MAX_REPORTS) end = MIS_MAX_REPORTS;
    for (int i = mark; i < end; i++)
        if (strcmp(mis_reports[i].call, call) != 0) {
            mis_fail("%s: a report names the call \"%s\", not %s", what, mis_reports[i].call, call);
            return;
        }
}

/* Requires that nothing was reported since `mark`. */
static inline void mis_expect_silence(int mark, const char *what)
{
    if (mis_mark() != mark) {
        char seen[400];
        mis_describe_reports(mark, seen, sizeof seen);
        mis_fail("%s: unexpected %s", what, seen);
    }
}

/* ------------------------------------------------------------------------- poking damage */

static int mis_pipe[2] = {-1, -1};

/* Writes n bytes at dst through the kernel; false (nothing written) if dst is not writable. */
static inline bool mis_poke(void *dst, const void *src, size_t n)
{
    if (mis_pipe[0] < 0 && pipe(mis_pipe) != 0) return false;
    if (syscall(SYS_write, mis_pipe[1], src, n) != (long)n) return false;
    long got = syscall(SYS_read, mis_pipe[0], dst, n);
    if (got == (long)n) return true;
    char sink[256];
    size_t left = n - (got > 0 ? (size_t)got : 0);
    while (left) {
        long r = syscall(SYS_read, mis_pipe[0], sink, left < sizeof sink ? left : sizeof sink);
        if (r <= 0) break;
        left -= (size_t)r;
    }
    return false;
}

/* Reads n bytes at src through the kernel; false if src is not readable. */
static inline bool mis_peek(const void *src, void *dst, size_t n)
{
    if (mis_pipe[0] < 0 && pipe(mis_pipe) != 0) return false;
    if (syscall(SYS_write, mis_pipe[1], src, n) != (long)n) return false;
    return syscall(SYS_read, mis_pipe[0], dst, n) == (long)n;
}

/* The byte an overrun of n bytes at dst writes: 0x41, unless a one-byte overrun would write what
 * dst holds already (1 time in 256 for a byte of an encoded header) and so damage nothing; then
 * its complement. */
static inline unsigned char mis_damaging_byte(const void *dst, size_t n)
{
    unsigned char held;
    return n == 1 && mis_peek(dst, &held, 1) && held == 0x41 ? 0xBE : 0x41;
}

static inline bool mis_poke_byte(void *dst, unsigned char value, size_t n)
{
    unsigned char buf[8192];
    bool ok = true;
    memset(buf, value, sizeof buf);
    for (size_t done = 0; done < n && ok; done += sizeof buf)
        ok = mis_poke((char *)dst + done, buf, n - done < sizeof buf ? n - done : sizeof buf);
    return ok;
}

static inline bool mis_poke_word(void *dst, uintptr_t value) { return mis_poke(dst, &value, sizeof value); }

/* ------------------------------------------------------------------- live block tracking */

#define MIS_MAX_LIVE 8192
typedef struct mis_span {
    uintptr_t lo, hi;
} mis_span;
static mis_span mis_live[MIS_MAX_LIVE];
static size_t mis_live_count;

/* Adds a block handed out by the allocator; a block that overlaps a live one is a failure
 * (the allocator handed memory out twice). Returns false then. */
static inline bool mis_track(const void *p, size_t n, const char *what)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + (n ? n : 1);
    for (size_t i = 0; i < mis_live_count; i++)
        if (lo < mis_live[i].hi && mis_live[i].lo < hi) {
            mis_fail("%s: block %p (+%zu) handed out while %p (+%zu) is live", what, p, n,
                     (void *)mis_live[i].lo, (size_t)(mis_live[i].hi - mis_live[i].lo));
            return false;
        }
    if (mis_live_count < MIS_MAX_LIVE) mis_live[mis_live_count++] = (mis_span){lo, hi};
    return true;
}

static inline void mis_untrack(const void *p)
{
    for (size_t i = 0; i < mis_live_count; i++)
        if (mis_live[i].lo == (uintptr_t)p) {
            mis_live[i] = mis_live[--mis_live_count];
            return;
        }
}

/* ----------------------------------------------------------------------- surfaces (ops) */

/* What a scenario needs from the surface under test. */
typedef struct mis_ops {
    const char *name;
    void *(*alloc)(size_t size);
    bool (*release)(void *p);                /* false: refused (where observable) */
    bool release_observable;                 /* does release tell refusal apart? */
    void *(*resize)(void *p, size_t size);
    bool (*validate)(void);                  /* whole heap */
    void (*traverse)(void);                  /* walk, stats, compact ...: must end, not crash */
    int (*kind)(const void *p);              /* NTH_ENTRY_* flags of the busy block at p, or -1 */
    bool (*lock)(void);
    bool (*unlock)(void);
    const char *alloc_call; /* the name reports made inside alloc must give */
} mis_ops;

/* Allocates through ops and tracks the block; NULL is a failure (false out-of-memory). */
static inline void *mis_take(const mis_ops *ops, size_t size, const char *what)
{
    void *p = ops->alloc(size);
    if (!p) {
        mis_fail("%s: allocation of %zu bytes failed (false out-of-memory)", what, size);
        return NULL;
    }
    return mis_track(p, size, what) ? p : NULL;
}

static inline bool mis_give(const mis_ops *ops, void *p)
{
    mis_untrack(p);
    return ops->release(p);
}

/* After the damage: the heap keeps serving every size, blocks do not overlap each other or any
 * live block, and every fresh block is freed without complaint. */
static inline void mis_serve(const mis_ops *ops, const char *when)
{
    static const size_t sizes[] = {1,    16,    24,    48,     64,     100,    128,     256,
                                   512,  1000,  1024,  3000,   4000,   8192,   16000,   20000,
                                   65536, 100000, 300000, 1u << 20, (2u << 20) + 5, 3u << 20};
    enum { MAX_FRESH = 1000 };
    static void *fresh[MAX_FRESH];
    static size_t fresh_size[MAX_FRESH];
    size_t count = 0;
    char what[160];
    MIS_STAGE("serving allocations of every size after the damage");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s] <= 16384 ? 40 : sizes[s] < 1000000 ? 5 : 3;
        for (size_t i = 0; i < n && count < MAX_FRESH; i++) {
            snprintf(what, sizeof what, "%s: alloc(%zu) #%zu", when, sizes[s], i);
            void *p = mis_take(ops, sizes[s], what);
            if (!p) return;
            size_t fill = sizes[s] < 4096 ? sizes[s] : 4096;
            memset(p, (int)(count & 0xFF), fill);
            memset((char *)p + sizes[s] - fill, (int)(count & 0xFF), fill);
            fresh[count] = p;
            fresh_size[count++] = sizes[s];
        }
    }
    MIS_STAGE("checking and freeing the fresh blocks");
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = fresh[i];
        size_t fill = fresh_size[i] < 4096 ? fresh_size[i] : 4096;
        if (p[0] != (i & 0xFF) || p[fill - 1] != (i & 0xFF) || p[fresh_size[i] - 1] != (i & 0xFF))
            mis_fail("%s: fresh block %p (+%zu) was overwritten by another allocation", when,
                     (const void *)p, fresh_size[i]);
    }
    int mark = mis_mark();
    for (size_t i = 0; i < count; i++)
        if (!mis_give(ops, fresh[i])) {
            mis_fail("%s: free of the fresh block %p (+%zu) was refused", when, fresh[i], fresh_size[i]);
            break;
        }
    mis_expect_silence(mark, "freeing the fresh blocks");
}

/* The whole aftermath: traversals do not crash or loop, validation runs, the heap serves. */
static inline void mis_aftermath(const mis_ops *ops, const char *when)
{
    MIS_STAGE("validating the heap after the damage");
    (void)ops->validate();
    ops->traverse();
    mis_serve(ops, when);
    MIS_STAGE("validating after serving");
    (void)ops->validate();
    ops->traverse();
}

/* ------------------------------------------------------------------------------- the table */

typedef struct mis_row {
    const char *surface;
    const char *kind;
    void (*fn)(long arg);
    long arg;
    unsigned timeout; /* seconds; 0: 12 */
} mis_row;

static inline bool mis_selected(int number)
{
    const char *list = getenv("MISUSE_ROWS");
    if (!list || !*list) return true;
    for (const char *s = list; *s;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) {
            s++;
            continue;
        }
        if (v == number) return true;
        s = end;
    }
    return false;
}

static inline const char *mis_signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGALRM: return "SIGALRM";
    case SIGKILL: return "SIGKILL";
    default: return "a signal";
    }
}

/* Runs every row in its own child; prints one line per row; counts rows as harness cases. */
static inline void mis_run_table(const mis_row *rows, size_t n, int first_number,
                                 void (*child_setup)(void))
{
    mis_page = mmap(NULL, sizeof *mis_page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mis_page == MAP_FAILED) {
        printf("cannot map the shared page\n");
        harness_failed++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int number = first_number + (int)i;
        if (!mis_selected(number)) continue;
        const mis_row *row = &rows[i];
        unsigned timeout = row->timeout ? row->timeout : 12;
        memset(mis_page, 0, sizeof *mis_page);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            if (!getenv("NTH_TEST_VERBOSE")) {
                FILE *null_out = freopen("/dev/null", "w", stderr);
                (void)null_out;
            }
            alarm(timeout);
            mis_set_stage("setting up");
            if (child_setup) child_setup();
            mis_set_stage("running the row");
            row->fn(row->arg);
            _exit(mis_failed() ? 1 : 0);
        }
        int status = 0;
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        bool killed = false;
        for (;;) {
            pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid || r < 0) break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (!killed && now.tv_sec - start.tv_sec > (time_t)timeout + 5) {
                kill(pid, SIGKILL);
                killed = true;
            }
            struct timespec nap = {0, 2000000};
            nanosleep(&nap, NULL);
        }
        char what[1700];
        bool ok = false;
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);
            if (sig == SIGALRM || sig == SIGKILL)
                snprintf(what, sizeof what, "hang: no end after %us, during %s%s%s", timeout,
                         mis_page->stage, mis_page->failure[0] ? "; " : "", mis_page->failure);
            else
                snprintf(what, sizeof what, "%s during %s%s%s", mis_signal_name(sig), mis_page->stage,
                         mis_page->failure[0] ? "; " : "", mis_page->failure);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            ok = true;
        } else {
            if (mis_page->failure[0])
                snprintf(what, sizeof what, "%s", mis_page->failure);
            else
                snprintf(what, sizeof what,
                         "exit status %d with no verdict during %s (a sanitizer report? "
                         "NTH_TEST_VERBOSE=1 shows it)",
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1, mis_page->stage);
        }
        if (ok && mis_page->skipped[0]) {
            printf("row %d  %s %s: skip (%s)\n", number, row->surface, row->kind, mis_page->skipped);
        } else if (ok) {
            printf("row %d  %s %s: ok\n", number, row->surface, row->kind);
            harness_passed++;
        } else {
            printf("row %d  %s %s: FAIL (%s)\n", number, row->surface, row->kind, what);
            harness_failed++;
        }
        fflush(stdout);
    }
}

#endif
