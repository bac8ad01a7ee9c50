/*
 * traces.c — the stack-trace database (Windows' user-mode stack trace database, behind
 * `!heap -p -a` and UMDH): each allocation's and free's call stack, stored once, blocks referring
 * to it by index.
 *
 * One private mapping, found by an outside reader through nth_heap_registry.traces (the
 * registry's last field), laid out as (the structs: trace_layout.h):
 *
 *   nth_trace_db (header, 128 B)
 *   | magic "NTTR" | version | depth_max | n_stacks | stack_capacity | frames_used | frame_capacity |
 *   | n_buckets | n_block_slots | n_blocks | dropped | offsets of the four arrays below |
 *   stacks[stack_capacity]  { uint64 hash; uint32 first frame; uint16 depth; uint16 pad }
 *                           index 0 is "no stack"; entries are append-only
 *   frames[frame_capacity]  return addresses (uintptr_t), innermost first, as captured (the
 *                           engine's own frames included: readers skip them when showing)
 *   buckets[n_buckets]      uint32 stack index, 0 empty; open addressing on hash, linear probes
 *   blocks[n_block_slots]   { uintptr_t data; size_t size; uint32 alloc_stack; uint32 pad }
 *                           the live traced blocks; data 0 empty; linear probes on the address,
 *                           deletion by backward shift (no tombstones)
 *
 * Capture uses backtrace(), primed once when the database is created (its first call loads the
 * unwinder, which allocates); a thread-local guard makes an allocation made by the capture itself
 * go untraced rather than recurse. Capture and insertion never symbolise: dladdr runs only in
 * reports (fault handler, exit leak report, nth_trace_print) and in the CLI.
 *
 * Invariants: one mutex guards the tables (taken after the heap lock is released, never with
 * it); a full table drops the new stack or block (counted in `dropped`), never an old one.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>

#include "heap/debug/debug.h"
#include "heap/debug/trace_layout.h"
#include "heap/vm.h"

#define STACK_CAPACITY (1u << 16)
#define FRAME_CAPACITY (STACK_CAPACITY * 24u)
#define N_BUCKETS (STACK_CAPACITY * 2u)
#define N_BLOCK_SLOTS (1u << NTH_TRACE_BLOCK_SLOTS_LG)
#define CAPTURE_MAX 64

static nth_trace_db *db;
static nth_trace_stack *stacks;
static uintptr_t *frames;
static uint32_t *buckets;
static nth_trace_block *blocks;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static NTH_TLS bool capturing;

static void fork_prepare(void) { pthread_mutex_lock(&trace_lock); }
static void fork_release(void) { pthread_mutex_unlock(&trace_lock); }

static size_t db_bytes(void)
{
    return sizeof(nth_trace_db) + STACK_CAPACITY * sizeof(nth_trace_stack) + (size_t)FRAME_CAPACITY * sizeof(uintptr_t) +
           N_BUCKETS * sizeof(uint32_t) + (size_t)N_BLOCK_SLOTS * sizeof(nth_trace_block);
}

size_t nth_trace_db_bytes(void)
{
    return db_bytes();
}

static void create_db(void)
{
    size_t off_stacks = sizeof(nth_trace_db);
    size_t off_frames = off_stacks + STACK_CAPACITY * sizeof(nth_trace_stack);
    size_t off_buckets = off_frames + (size_t)FRAME_CAPACITY * sizeof(uintptr_t);
    size_t off_blocks = off_buckets + N_BUCKETS * sizeof(uint32_t);
    size_t bytes = db_bytes();
    char *base = nth_vm_map_private(bytes);
    if (!base) return;
    void *prime[4];
    capturing = true;
    (void)backtrace(prime, 4); /* loads the unwinder now, not under an allocation */
    capturing = false;
    nth_trace_db *d = (nth_trace_db *)base;
    d->version = 1;
    d->depth_max = (uint32_t)nth_process_defaults.stack_depth + 4; /* + the engine's own frames */
    if (d->depth_max > CAPTURE_MAX) d->depth_max = CAPTURE_MAX;
    d->n_stacks = 1;
    d->stack_capacity = STACK_CAPACITY;
    d->frame_capacity = FRAME_CAPACITY;
    d->n_buckets = N_BUCKETS;
    d->n_block_slots = N_BLOCK_SLOTS;
    d->stacks_offset = off_stacks;
    d->frames_offset = off_frames;
    d->buckets_offset = off_buckets;
    d->blocks_offset = off_blocks;
    stacks = (nth_trace_stack *)(base + off_stacks);
    frames = (uintptr_t *)(base + off_frames);
    buckets = (uint32_t *)(base + off_buckets);
    blocks = (nth_trace_block *)(base + off_blocks);
    d->magic = NTH_TRACE_MAGIC;
    db = d;
    nth_heap_registry.traces = d;
    pthread_atfork(fork_prepare, fork_release, fork_release);
}

void nth_trace_init(void)
{
    pthread_once(&trace_once, create_db);
}

static uint64_t hash_frames(void *const *f, int n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < n; i++) {
        h ^= (uint64_t)(uintptr_t)f[i];
        h *= 0x100000001B3ull;
        h ^= h >> 31;
    }
    return h ? h : 1;
}

static uint32_t stack_insert_locked(void *const *f, int n)
{
    uint64_t h = hash_frames(f, n);
    for (uint32_t i = (uint32_t)h & (N_BUCKETS - 1), probes = 0; probes < N_BUCKETS; i = (i + 1) & (N_BUCKETS - 1), probes++) {
        uint32_t s = buckets[i];
        if (s == 0) {
            if (db->n_stacks >= STACK_CAPACITY || db->frames_used + (uint32_t)n > FRAME_CAPACITY) break;
            s = db->n_stacks;
            stacks[s] = (nth_trace_stack){h, db->frames_used, (uint16_t)n, 0};
            for (int k = 0; k < n; k++) frames[db->frames_used + (uint32_t)k] = (uintptr_t)f[k];
            db->frames_used += (uint32_t)n;
            db->n_stacks = s + 1;
            buckets[i] = s;
            return s;
        }
        const nth_trace_stack *st = &stacks[s];
        if (st->hash != h || st->depth != n) continue;
        int k = 0;
        while (k < n && frames[st->first + (uint32_t)k] == (uintptr_t)f[k]) k++;
        if (k == n) return s;
    }
    db->dropped++;
    return 0;
}

uint32_t nth_trace_capture(void)
{
    if (!db || capturing) return 0;
    void *f[CAPTURE_MAX];
    capturing = true;
    int n = backtrace(f, (int)db->depth_max);
    capturing = false;
    if (n <= 1) return 0;
    pthread_mutex_lock(&trace_lock);
    /* Frame 0 is this function: not stored. */
    uint32_t s = stack_insert_locked(f + 1, n - 1);
    pthread_mutex_unlock(&trace_lock);
    return s;
}

/* ---------------------------------------------------------------------------- block map */

static size_t slot_of(uintptr_t data)
{
    return nth_trace_home_slot(data);
}

/* The slot holding data, or the empty slot where it would go. */
static size_t find_slot(uintptr_t data)
{
    size_t i = slot_of(data);
    while (blocks[i].data && blocks[i].data != data) i = (i + 1) & (N_BLOCK_SLOTS - 1);
    return i;
}

void nth_trace_note_alloc(const void *ptr, size_t size, uint32_t stack)
{
    if (!db || !ptr) return;
    pthread_mutex_lock(&trace_lock);
    size_t i = find_slot((uintptr_t)ptr);
    if (!blocks[i].data) {
        if (db->n_blocks >= N_BLOCK_SLOTS / 4 * 3) {
            db->dropped++;
            pthread_mutex_unlock(&trace_lock);
            return;
        }
        db->n_blocks++;
    }
    blocks[i] = (nth_trace_block){(uintptr_t)ptr, size, stack, 0};
    pthread_mutex_unlock(&trace_lock);
}

uint32_t nth_trace_note_free(const void *ptr)
{
    if (!db || !ptr) return 0;
    pthread_mutex_lock(&trace_lock);
    size_t i = find_slot((uintptr_t)ptr);
    uint32_t stack = blocks[i].alloc_stack;
    if (blocks[i].data) {
        /* Backward-shift deletion: move later members of the probe run into the hole. */
        size_t hole = i;
        for (size_t j = (i + 1) & (N_BLOCK_SLOTS - 1); blocks[j].data; j = (j + 1) & (N_BLOCK_SLOTS - 1)) {
            size_t home = slot_of(blocks[j].data);
            bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                blocks[hole] = blocks[j];
                hole = j;
            }
        }
        blocks[hole] = (nth_trace_block){0, 0, 0, 0};
        db->n_blocks--;
    } else {
        stack = 0;
    }
    pthread_mutex_unlock(&trace_lock);
    return stack;
}

uint32_t nth_trace_alloc_stack_of(const void *ptr)
{
    if (!db || !ptr) return 0;
    pthread_mutex_lock(&trace_lock);
    size_t i = find_slot((uintptr_t)ptr);
    uint32_t stack = blocks[i].data ? blocks[i].alloc_stack : 0;
    pthread_mutex_unlock(&trace_lock);
    return stack;
}

void nth_trace_for_each(void (*fn)(const void *ptr, size_t size, uint32_t stack, void *ctx), void *ctx)
{
    if (!db) return;
    pthread_mutex_lock(&trace_lock);
    for (size_t i = 0; i < N_BLOCK_SLOTS; i++)
        if (blocks[i].data) fn((const void *)blocks[i].data, blocks[i].size, blocks[i].alloc_stack, ctx);
    pthread_mutex_unlock(&trace_lock);
}

size_t nth_trace_frames(uint32_t stack, void **out, size_t max)
{
    if (!db || stack == 0 || stack >= db->n_stacks) return 0;
    size_t n = stacks[stack].depth < max ? stacks[stack].depth : max;
    for (size_t k = 0; k < n; k++) out[k] = (void *)frames[stacks[stack].first + k];
    return n;
}

/* ------------------------------------------------------------------------- symbolising */

/* A frame of the engine itself: in the engine's module and either without a dynamic symbol
 * (static) or one of the engine's entry points. */
static bool engine_frame(void *frame)
{
    static Dl_info self;
    static bool have_self;
    if (!have_self) have_self = dladdr((void *)nth_trace_capture, &self) != 0;
    Dl_info info;
    if (!have_self || !dladdr((char *)frame - 1, &info) || info.dli_fbase != self.dli_fbase) return false;
    const char *s = info.dli_sname;
    if (!s || strncmp(s, "nth_", 4) == 0) return true;
    static const char *const entries[] = {"malloc", "free", "calloc", "realloc", "reallocarray", "memalign",
                                          "aligned_alloc", "posix_memalign", "valloc", "pvalloc"};
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (strcmp(s, entries[i]) == 0) return true;
    return false;
}

size_t nth_trace_user_frames(uint32_t stack, void **out, size_t max)
{
    void *f[CAPTURE_MAX];
    size_t n = nth_trace_frames(stack, f, CAPTURE_MAX), skip = 0;
    while (skip < n && engine_frame(f[skip])) skip++;
    size_t kept = 0;
    for (size_t k = skip; k < n && kept < max && kept < nth_process_defaults.stack_depth; k++) out[kept++] = f[k];
    return kept;
}

void nth_trace_print(int fd, uint32_t stack)
{
    void *f[CAPTURE_MAX];
    size_t n = nth_trace_user_frames(stack, f, CAPTURE_MAX);
    if (n == 0) nth_debug_write(fd, "    (no stack recorded)\n");
    for (size_t k = 0; k < n; k++) {
        Dl_info info;
        if (dladdr((char *)f[k] - 1, &info) && info.dli_sname)
            nth_debug_write(fd, "    #%zu %p %s+0x%zx (%s)\n", k, f[k], info.dli_sname,
                            (size_t)((char *)f[k] - (char *)info.dli_saddr), info.dli_fname ? info.dli_fname : "?");
        else if (info.dli_fname)
            nth_debug_write(fd, "    #%zu %p %s+0x%zx\n", k, f[k], info.dli_fname,
                            (size_t)((char *)f[k] - (char *)info.dli_fbase));
        else
            nth_debug_write(fd, "    #%zu %p\n", k, f[k]);
    }
}

bool nth_heap_block_stacks(const void *ptr, void **alloc_frames, size_t *n_alloc, void **free_frames,
                           size_t *n_free, size_t max)
{
    uint32_t a = nth_trace_alloc_stack_of(ptr), f = 0;
    nth_delayed d;
    if (a == 0 && nth_delay_find(ptr, false, true, &d)) a = d.alloc_stack, f = d.free_stack;
    size_t na = a ? nth_trace_user_frames(a, alloc_frames, max) : 0;
    size_t nf = f ? nth_trace_user_frames(f, free_frames, max) : 0;
    if (n_alloc) *n_alloc = na;
    if (n_free) *n_free = nf;
    return a != 0 || f != 0;
}
