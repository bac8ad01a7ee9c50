/*
 * leaks.c — blocks still alive, grouped by allocation stack: the exit-time leak report
 * (leak_report=1) and UMDH-style snapshot files (leak_report=2, nth_heap_write_snapshot) that
 * `ntheap umdh A B` compares.
 *
 * Reachability (leak report, leaks_only snapshots): a conservative mark from the roots
 *   - every writable mapping of /proc/self/maps (data and bss of every object, the stacks of
 *     other threads, glibc's [heap], other anonymous memory), the calling thread's stack from
 *     its current frame up (not the dead part below it), except heap memory itself (any page the address
 *     map gives an owner) and the engine's own tables (stack-trace database, delay queue,
 *     big-block record pages, this file's scratch);
 *   - then the contents of every busy traced block reached, until no new block is reached.
 * A word is a reference when it points anywhere inside a block (interior pointers count).
 * Writable mappings over 64 GiB (a sanitizer's shadow) are skipped. Blocks never reached are leaks. Memory of objects the scan cannot see (TLS blocks that ld.so
 * mapped, kernel-held buffers) may make a live block look leaked: the report says "not reachable",
 * not "leaked for sure".
 *
 * Snapshot file (text, one stack per record, biggest first):
 *
 *   # ntheap umdh snapshot 1
 *   pid 1234
 *   total blocks 12 bytes 4096
 *   stack 7 count 3 bytes 96
 *     0x7f..1234 module+0x1234 symbol+0x10
 *     ...
 *   end
 *
 * Frames are named module+offset so that two runs (address-space layout randomised) compare.
 * Nothing here allocates from a heap: scratch memory is engine metadata (nth_vm_map_private),
 * /proc/self/maps is read with read(2), output goes through write(2).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "heap/debug/debug.h"
#include "heap/vm.h"

typedef struct live_block {
    uintptr_t start;
    size_t size;
    uint32_t stack;
    uint32_t reached;
} live_block;

typedef struct group {
    uint32_t stack;
    size_t count, bytes;
} group;

typedef struct scan {
    live_block *blocks;
    size_t n, capacity;
    size_t *work; /* indexes of reached blocks whose contents are not scanned yet */
    size_t n_work;
} scan;

static pthread_once_t arm_once = PTHREAD_ONCE_INIT;

static void collect(const void *ptr, size_t size, uint32_t stack, void *ctx)
{
    scan *s = ctx;
    if (s->n < s->capacity) s->blocks[s->n++] = (live_block){(uintptr_t)ptr, size, stack, 0};
}

/* In-place heapsort (no allocation), by a caller's "less". */
static void sift(void *base, size_t n, size_t size, size_t i, bool (*less)(const void *, const void *), char *tmp)
{
    char *b = base;
    for (;;) {
        size_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && less(b + big * size, b + l * size)) big = l;
        if (r < n && less(b + big * size, b + r * size)) big = r;
        if (big == i) return;
        memcpy(tmp, b + i * size, size);
        memcpy(b + i * size, b + big * size, size);
        memcpy(b + big * size, tmp, size);
        i = big;
    }
}

static void sort(void *base, size_t n, size_t size, bool (*less)(const void *, const void *))
{
    char tmp[64], *b = base;
    for (size_t i = n / 2; i-- > 0;) sift(base, n, size, i, less, tmp);
    for (size_t end = n; end-- > 1;) {
        memcpy(tmp, b, size);
        memcpy(b, b + end * size, size);
        memcpy(b + end * size, tmp, size);
        sift(base, end, size, 0, less, tmp);
    }
}

static bool by_start(const void *a, const void *b)
{
    return ((const live_block *)a)->start < ((const live_block *)b)->start;
}

static bool by_bytes_desc(const void *a, const void *b)
{
    const group *x = a, *y = b;
    return x->bytes != y->bytes ? x->bytes > y->bytes : x->count > y->count;
}

/* The block holding address p, or SIZE_MAX. */
static size_t block_holding(const scan *s, uintptr_t p)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->blocks[mid].start <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return SIZE_MAX;
    const live_block *b = &s->blocks[lo - 1];
    return p - b->start < (b->size ? b->size : 1) ? lo - 1 : SIZE_MAX;
}

/* Reads memory the program owns in any state (stack redzones, other threads' frames, mappings
 * a sanitizer keeps no shadow for): not instrumented by AddressSanitizer or ThreadSanitizer. */
__attribute__((no_sanitize("address", "thread"))) static void scan_range(scan *s, uintptr_t from, uintptr_t to)
{
    from = nth_round_up(from, sizeof(uintptr_t));
    for (uintptr_t a = from; a + sizeof(uintptr_t) <= to; a += sizeof(uintptr_t)) {
        uintptr_t word;
        memcpy(&word, (const void *)a, sizeof word);
        size_t i = block_holding(s, word);
        if (i != SIZE_MAX && !s->blocks[i].reached) {
            s->blocks[i].reached = 1;
            s->work[s->n_work++] = i;
        }
    }
}

/* Ranges the scan must not read as roots: the engine's tables. */
typedef struct excluded {
    uintptr_t start, end;
} excluded;

static bool page_excluded(uintptr_t page, const excluded *ex, size_t n_ex)
{
    if (nth_addrmap_lookup((const void *)page)) return true; /* heap memory */
    for (size_t i = 0; i < n_ex; i++)
        if (page < ex[i].end && page + NTH_PAGE > ex[i].start) return true;
    return false;
}

static size_t engine_tables(excluded *ex, size_t max, const scan *s)
{
    size_t n = 0;
    const struct nth_trace_db *db = nth_heap_registry.traces;
    if (db && n < max) ex[n++] = (excluded){(uintptr_t)db, (uintptr_t)db + nth_trace_db_bytes()};
    ex[n++] = (excluded){(uintptr_t)s->blocks, (uintptr_t)(s->blocks + s->capacity)};
    ex[n++] = (excluded){(uintptr_t)s->work, (uintptr_t)(s->work + s->capacity)};
    for (nth_heap *h = nth_heap_registry.first_heap; h; h = h->next_heap)
        for (nth_big_page *p = h->big_pages; p && n < max; p = p->next)
            ex[n++] = (excluded){(uintptr_t)p - NTH_PAGE, (uintptr_t)p - NTH_PAGE + NTH_BIG_PAGE_RESERVE};
    return n;
}

/* Larger writable mappings are not program data but reservations such as a sanitizer's shadow
 * memory (terabytes); they are not scanned. */
#define MAX_ROOT_MAPPING ((unsigned long)64 << 30)

static void scan_roots(scan *s)
{
    static _Alignas(4096) char maps[1 << 20]; /* whole pages: the page-granular exclusion is exact */
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t len = 0;
    for (ssize_t r; len < sizeof maps - 1 && (r = read(fd, maps + len, sizeof maps - 1 - len)) > 0;) len += (size_t)r;
    close(fd);
    maps[len] = '\0';
    excluded ex[512];
    size_t n_ex = engine_tables(ex, 512, s);
    ex[n_ex++] = (excluded){(uintptr_t)maps, (uintptr_t)maps + sizeof maps};
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0); /* the live part of this thread's stack */
    for (char *line = maps; *line;) {
        char *next = strchr(line, '\n');
        if (next) *next = '\0';
        unsigned long start, end;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 && perms[0] == 'r' && perms[1] == 'w' &&
            end - start <= MAX_ROOT_MAPPING && !strstr(line, "[vvar]") && !strstr(line, "[vsyscall]"))
            for (uintptr_t page = start; page < end; page += NTH_PAGE) {
                uintptr_t from = page <= sp && sp < page + NTH_PAGE ? sp : page;
                if (sp >= start && sp < end && page + NTH_PAGE <= sp) continue; /* dead stack */
                if (!page_excluded(page, ex, n_ex)) scan_range(s, from, page + NTH_PAGE);
            }
        if (!next) break;
        line = next + 1;
    }
}

static void mark(scan *s)
{
    scan_roots(s);
    while (s->n_work > 0) {
        const live_block *b = &s->blocks[s->work[--s->n_work]];
        scan_range(s, b->start, b->start + b->size);
    }
}

static bool by_stack(const void *a, const void *b)
{
    return ((const live_block *)a)->stack < ((const live_block *)b)->stack;
}

/* Groups the chosen blocks by stack into `groups`, biggest first; returns how many. The blocks
 * end sorted by stack. */
static size_t group_by_stack(scan *s, bool leaks_only, group *groups, size_t max)
{
    sort(s->blocks, s->n, sizeof *s->blocks, by_stack);
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const live_block *b = &s->blocks[i];
        if (leaks_only && b->reached) continue;
        if (n == 0 || groups[n - 1].stack != b->stack) {
            if (n == max) break;
            groups[n++] = (group){b->stack, 0, 0};
        }
        groups[n - 1].count++;
        groups[n - 1].bytes += b->size;
    }
    sort(groups, n, sizeof *groups, by_bytes_desc);
    return n;
}

/* Runs fn over the grouped live blocks; false when no scratch memory could be had. */
static bool with_groups(bool leaks_only, void (*fn)(const group *g, size_t n, void *ctx), void *ctx)
{
    scan s = {0};
    s.capacity = 1u << 20;
    s.blocks = nth_vm_map_private(s.capacity * sizeof *s.blocks);
    s.work = nth_vm_map_private(s.capacity * sizeof *s.work);
    group *groups = nth_vm_map_private(65536 * sizeof *groups);
    bool ok = s.blocks && s.work && groups;
    if (ok) {
        nth_trace_for_each(collect, &s);
        sort(s.blocks, s.n, sizeof *s.blocks, by_start);
        if (leaks_only) mark(&s);
        fn(groups, group_by_stack(&s, leaks_only, groups, 65536), ctx);
    }
    if (s.blocks) nth_vm_unmap_private(s.blocks, s.capacity * sizeof *s.blocks);
    if (s.work) nth_vm_unmap_private(s.work, s.capacity * sizeof *s.work);
    if (groups) nth_vm_unmap_private(groups, 65536 * sizeof *groups);
    return ok;
}

static void print_report(const group *g, size_t n, void *ctx)
{
    (void)ctx;
    size_t blocks = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) blocks += g[i].count, bytes += g[i].bytes;
    nth_debug_write(STDERR_FILENO, "ntheap: leak report: %zu blocks (%zu bytes) not reachable at exit, from %zu stacks\n",
                    blocks, bytes, n);
    for (size_t i = 0; i < n; i++) {
        nth_debug_write(STDERR_FILENO, "ntheap: %zu blocks, %zu bytes, allocated at:\n", g[i].count, g[i].bytes);
        nth_trace_print(STDERR_FILENO, g[i].stack);
    }
}

static void write_frames(int fd, uint32_t stack)
{
    void *f[64];
    size_t n = nth_trace_user_frames(stack, f, 64);
    for (size_t k = 0; k < n; k++) {
        Dl_info info;
        if (!dladdr((char *)f[k] - 1, &info) || !info.dli_fname) {
            nth_debug_write(fd, "  %p ?+0x0 ?\n", f[k]);
            continue;
        }
        const char *module = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
        nth_debug_write(fd, "  %p %s+0x%zx %s+0x%zx\n", f[k], *module ? module : "?",
                        (size_t)((char *)f[k] - (char *)info.dli_fbase), info.dli_sname ? info.dli_sname : "?",
                        info.dli_sname ? (size_t)((char *)f[k] - (char *)info.dli_saddr) : (size_t)0);
    }
}

static void write_snapshot(const group *g, size_t n, void *ctx)
{
    int fd = *(int *)ctx;
    size_t blocks = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) blocks += g[i].count, bytes += g[i].bytes;
    nth_debug_write(fd, "# ntheap umdh snapshot 1\npid %ld\ntotal blocks %zu bytes %zu\n", (long)getpid(), blocks,
                    bytes);
    for (size_t i = 0; i < n; i++) {
        nth_debug_write(fd, "stack %u count %zu bytes %zu\n", g[i].stack, g[i].count, g[i].bytes);
        write_frames(fd, g[i].stack);
    }
    nth_debug_write(fd, "end\n");
}

bool nth_heap_write_snapshot(const char *path, bool leaks_only)
{
    if (!nth_heap_registry.traces || !path) {
        nth_set_last_error(NTH_ERR_NOT_SUPPORTED);
        return false;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    bool ok = with_groups(leaks_only, write_snapshot, &fd);
    return close(fd) == 0 && ok;
}

static void report_at_exit(void)
{
    if (!nth_process_defaults.leak_report || !nth_heap_registry.traces) return;
    with_groups(true, print_report, NULL);
    if (nth_process_defaults.leak_report == 2) {
        char path[64];
        snprintf(path, sizeof path, "ntheap-umdh.%ld.txt", (long)getpid());
        if (nth_heap_write_snapshot(path, false))
            nth_debug_write(STDERR_FILENO, "ntheap: UMDH snapshot written to %s\n", path);
    }
}

static void arm(void)
{
    atexit(report_at_exit);
}

void nth_leaks_arm(void)
{
    pthread_once(&arm_once, arm);
}
