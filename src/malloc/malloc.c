/*
 * malloc.c — the C library's malloc family, served by the ntheap process heap.
 *
 * Built into libntheap-malloc.so (LD_PRELOAD) and libntheap-malloc.a (static link, together with
 * libntheap.a). Every function here replaces the glibc function of the same name, following the
 * glibc manual for what C and POSIX leave open:
 *   - malloc(0) returns a unique pointer that free() accepts; realloc(p, 0) with p != NULL frees p
 *     and returns NULL (glibc's REALLOC_ZERO_BYTES_FREES); realloc(NULL, n) is malloc(n).
 *   - Failures return NULL with errno ENOMEM. Sizes above PTRDIFF_MAX fail with ENOMEM before
 *     reaching the engine, and so do calloc/reallocarray products that overflow.
 *   - aligned_alloc: alignment must be a power of two (EINVAL otherwise, as glibc 2.38 and later);
 *     the size need not be a multiple of it (C17 DR 460). memalign/valloc/pvalloc keep glibc's
 *     leniency: an alignment that is not a power of two is rounded up to one, EINVAL only when that
 *     is impossible. posix_memalign returns EINVAL/ENOMEM and leaves errno and *memptr alone.
 *   - free(NULL) is a no-op. A pointer that is a live block of another ntheap heap is freed in its
 *     owning heap (same for realloc and malloc_usable_size). Any other pointer is handed to the
 *     engine, which reports it under the name of the call ("free", "realloc") and changes nothing;
 *     free then returns normally (errno preserved), realloc returns NULL with errno EINVAL.
 *
 * Initialisation: the process heap is created by the first call, whenever that is (before main,
 * from another library's constructor, from ld.so). If the engine itself allocates while the
 * process heap is being created, those nested calls of the initialising thread are served from a
 * small static bootstrap arena; its blocks are never reused and free() of them is a silent no-op.
 * Other threads that arrive during initialisation wait for it.
 *
 * Fork: the engine's own pthread_atfork handlers hold every heap lock and every global lock of
 * the engine across fork(), so the child never inherits one half-updated.
 *
 * Fast paths: malloc and free first try the engine's inline LFH fast paths (heap/lfh_fast.h:
 * this thread's cache, its current subsegment, the pointer's owner from the address map), which
 * make no call and never report; everything else goes through the public entry points, which
 * check, report and name the call.
 *
 * Invariants: this layer keeps no per-thread state (thread caches belong to the engine), takes no
 * lock of its own on any fast path, and exports only the replaced C library names; everything
 * else is static.
 */
#include "ntheap.h"
#include "heap/debug/tags.h"
#include "heap/lfh_fast.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTH_EXPORT __attribute__((visibility("default")))

/* The alignment every ntheap block has (two pointers, as glibc's MALLOC_ALIGNMENT on x86_64). */
#define MALLOC_ALIGNMENT 16u

/* --------------------------------------------------------------------------- initialisation */

enum init_state { INIT_NONE, INIT_RUNNING, INIT_DONE };

static nth_heap *_Atomic process_heap;      /* set once, then read on every call */
static atomic_int init_state;              /* enum init_state */
static pthread_t init_thread;              /* valid while init_state == INIT_RUNNING */

/* Creates the process heap, or returns NULL when the caller is the thread creating it (a nested
 * call: serve it from the bootstrap arena) or when the heap cannot be created. */
static __attribute__((noinline)) nth_heap *heap_init_slow(void)
{
    for (;;) {
        nth_heap *heap = atomic_load_explicit(&process_heap, memory_order_acquire);
        if (heap) return heap;
        int expected = INIT_NONE;
        if (atomic_compare_exchange_strong(&init_state, &expected, INIT_RUNNING)) {
            init_thread = pthread_self();
            heap = nth_process_heap();
            if (!heap) {
                atomic_store(&init_state, INIT_NONE);
                return NULL;
            }
            atomic_store_explicit(&process_heap, heap, memory_order_release);
            atomic_store(&init_state, INIT_DONE);
            return heap;
        }
        if (expected == INIT_RUNNING && pthread_equal(init_thread, pthread_self())) return NULL;
        sched_yield();
    }
}

static inline nth_heap *heap_get(void)
{
    nth_heap *heap = atomic_load_explicit(&process_heap, memory_order_acquire);
    if (NTH_LIKELY(heap)) return heap;
    return heap_init_slow();
}

/* Creates the heap when the library is loaded even if nothing allocates before main. */
__attribute__((constructor)) static void malloc_constructor(void)
{
    (void)heap_get();
}

/* ------------------------------------------------------------------------- bootstrap arena */

/* Blocks handed out during initialisation. Each has a 16-byte prefix holding its size. */
#define BOOT_BYTES (64u * 1024u)
#define BOOT_PREFIX 16u

static _Alignas(64) unsigned char boot_arena[BOOT_BYTES];
static atomic_size_t boot_used;

static inline bool boot_owns(const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr, base = (uintptr_t)boot_arena;
    return p >= base && p < base + BOOT_BYTES;
}

static void *boot_alloc(size_t alignment, size_t size)
{
    if (alignment < MALLOC_ALIGNMENT) alignment = MALLOC_ALIGNMENT;
    size_t used = atomic_load(&boot_used);
    for (;;) {
        uintptr_t base = (uintptr_t)boot_arena;
        uintptr_t data = (base + used + BOOT_PREFIX + alignment - 1) & ~(uintptr_t)(alignment - 1);
        if (size > BOOT_BYTES || data - base > BOOT_BYTES - size) {
            errno = ENOMEM;
            return NULL;
        }
        size_t end = (size_t)(data - base) + ((size + MALLOC_ALIGNMENT - 1) & ~(size_t)15);
        if (end > BOOT_BYTES) end = BOOT_BYTES;
        if (atomic_compare_exchange_weak(&boot_used, &used, end)) {
            memcpy((void *)(data - sizeof(size_t)), &size, sizeof size);
            return (void *)data;
        }
    }
}

static size_t boot_size(const void *ptr)
{
    size_t size;
    memcpy(&size, (const unsigned char *)ptr - sizeof(size_t), sizeof size);
    return size;
}

/* ------------------------------------------------------------------------------ helpers */

static void *fail_nomem(void)
{
    errno = ENOMEM;
    return NULL;
}

static size_t page_size(void)
{
    static atomic_size_t cached;
    size_t size = atomic_load_explicit(&cached, memory_order_relaxed);
    if (NTH_UNLIKELY(size == 0)) {
        long value = sysconf(_SC_PAGESIZE);
        size = value > 0 ? (size_t)value : 4096u;
        atomic_store_explicit(&cached, size, memory_order_relaxed);
    }
    return size;
}

static inline bool is_power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* Allocation with an alignment already checked to be a power of two. */
static void *aligned_checked(size_t alignment, size_t size)
{
    if (NTH_UNLIKELY(size > PTRDIFF_MAX)) return fail_nomem();
    nth_heap *heap = heap_get();
    if (NTH_UNLIKELY(!heap)) return boot_alloc(alignment, size);
    void *ptr = alignment <= MALLOC_ALIGNMENT ? nth_heap_alloc(heap, 0, size)
                                              : nth_heap_alloc_aligned(heap, 0, alignment, size);
    if (NTH_UNLIKELY(!ptr)) errno = ENOMEM;
    return ptr;
}

/* glibc's memalign leniency: round a non-power-of-two alignment up to the next power of two. */
static void *aligned_lenient(size_t alignment, size_t size)
{
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_power_of_two(alignment)) {
        size_t rounded = MALLOC_ALIGNMENT;
        while (rounded < alignment) rounded <<= 1;
        alignment = rounded;
    }
    return aligned_checked(alignment, size);
}

/* errno for a failed realloc of an owned pointer: a bad pointer (the engine reported it) is
 * EINVAL, as for a pointer no heap owns; running out of memory is ENOMEM. */
static int realloc_errno(nth_error error)
{
    switch (error) {
    case NTH_ERR_INVALID_POINTER:
    case NTH_ERR_DOUBLE_FREE:
    case NTH_ERR_WRONG_HEAP:
    case NTH_ERR_CORRUPT:
        return EINVAL;
    default:
        return ENOMEM;
    }
}

static __attribute__((noinline)) void *realloc_unowned(void *ptr, size_t size)
{
    if (boot_owns(ptr)) {
        void *moved = malloc(size);
        if (moved) {
            size_t old = boot_size(ptr);
            memcpy(moved, ptr, old < size ? old : size);
        }
        return moved;
    }
    nth_heap *heap = heap_get();
    if (heap) {
        void *moved = nth_heap_realloc_as(heap, 0, ptr, size, "realloc"); /* reports the bad pointer */
        if (moved) return moved; /* the engine knows better than nth_heap_from_pointer */
    }
    errno = EINVAL;
    return NULL;
}

/* ----------------------------------------------------------------------- the malloc family */

/* caller: malloc's return address, which tags=module attributes the block to. */
static __attribute__((noinline)) void *malloc_slow(size_t size, void *caller)
{
    if (NTH_UNLIKELY(size > PTRDIFF_MAX)) return fail_nomem();
    nth_heap *heap = heap_get();
    if (NTH_UNLIKELY(!heap)) return boot_alloc(MALLOC_ALIGNMENT, size);
    NTH_TAGS_ROUTE_ALLOC(size, 0, caller, "malloc");
    void *ptr = nth_heap_alloc_as(heap, 0, size, "malloc");
    if (NTH_UNLIKELY(!ptr)) errno = ENOMEM;
    return ptr;
}

NTH_EXPORT void *malloc(size_t size)
{
    /* This thread's cache for the process heap, set once the slow path has made one. */
    nth_lfh_tcache *tc = nth_lfh_tls_process;
    if (NTH_LIKELY(tc != NULL)) {
        void *ptr = NULL; /* the fast paths never report */
        if (NTH_LIKELY(size - 1 < 1024)) /* 1 ... 1024 bytes: 16-byte buckets */
            ptr = nth_lfh_alloc_bucket(tc, (unsigned)((size - 1) >> 4), size, true);
        else if (size <= NTH_LFH_MAX_SIZE)
            ptr = nth_lfh_alloc_cached(tc, size, true);
        if (NTH_LIKELY(ptr != NULL)) return ptr;
    }
    return malloc_slow(size, __builtin_return_address(0));
}

static __attribute__((noinline)) void free_slow(void *ptr)
{
    if (NTH_UNLIKELY(!ptr || boot_owns(ptr))) return; /* bootstrap blocks are never freed */
    (void)nth_free_as(ptr, "free"); /* finds the owning heap, checks the block, reports misuse */
}

/* Another thread's block, a retired subsegment's, a paused heap, or misuse. */
static __attribute__((noinline)) void free_lfh_slow(nth_lfh_subsegment *sub, void *ptr)
{
    if (!nth_lfh_free_if_block(sub, ptr, "free")) free_slow(ptr);
}

NTH_EXPORT void free(void *ptr)
{
    /* NULL and the bootstrap arena have no owner in the address map. */
    nth_lfh_subsegment *sub;
    if (NTH_LIKELY(nth_lfh_subsegment_fast(ptr, &sub))) {
        if (NTH_LIKELY(nth_lfh_free_fast(false, NULL, sub, ptr))) return; /* a block of any heap */
        free_lfh_slow(sub, ptr);
        return;
    }
    free_slow(ptr);
}

NTH_EXPORT void *calloc(size_t count, size_t size)
{
    size_t total;
    if (NTH_UNLIKELY(__builtin_mul_overflow(count, size, &total) || total > PTRDIFF_MAX))
        return fail_nomem();
    nth_heap *heap = heap_get();
    if (NTH_UNLIKELY(!heap)) return boot_alloc(MALLOC_ALIGNMENT, total); /* static: zeroed */
    NTH_TAGS_ROUTE_ALLOC(total, NTH_ZERO_MEMORY, __builtin_return_address(0), "calloc");
    void *ptr = nth_heap_alloc_as(heap, NTH_ZERO_MEMORY, total, "calloc");
    if (NTH_UNLIKELY(!ptr)) errno = ENOMEM;
    return ptr;
}

NTH_EXPORT void *realloc(void *ptr, size_t size)
{
    if (!ptr) return malloc(size);
    if (size == 0) { /* free(ptr), which tells a refused (reported) pointer by errno */
        if (!boot_owns(ptr) && !nth_free_as(ptr, "realloc")) errno = EINVAL;
        return NULL;
    }
    if (NTH_UNLIKELY(size > PTRDIFF_MAX)) return fail_nomem();
    /* This thread's LFH block, resized in place within its slot: no lock, no call. */
    nth_lfh_subsegment *sub;
    if (NTH_LIKELY(nth_lfh_subsegment_fast(ptr, &sub)) && NTH_LIKELY(nth_lfh_resize_fast(false, NULL, sub, ptr, size)))
        return ptr;
    nth_heap *owner = nth_heap_owner(ptr); /* lock-free; nth_heap_realloc checks the block */
    if (NTH_UNLIKELY(!owner)) return realloc_unowned(ptr, size);
    void *moved = nth_heap_realloc_as(owner, 0, ptr, size, "realloc");
    if (NTH_UNLIKELY(!moved)) errno = realloc_errno(nth_last_error());
    return moved;
}

NTH_EXPORT void *reallocarray(void *ptr, size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) return fail_nomem();
    return realloc(ptr, total);
}

NTH_EXPORT void *memalign(size_t alignment, size_t size)
{
    return aligned_lenient(alignment, size);
}

NTH_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_checked(alignment, size);
}

NTH_EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    int saved_errno = errno;
    void *ptr = aligned_checked(alignment, size);
    errno = saved_errno;
    if (!ptr) return ENOMEM;
    *memptr = ptr;
    return 0;
}

NTH_EXPORT void *valloc(size_t size)
{
    return aligned_checked(page_size(), size);
}

NTH_EXPORT void *pvalloc(size_t size)
{
    size_t page = page_size(), rounded;
    if (size == 0) size = 1;
    if (__builtin_add_overflow(size, page - 1, &rounded)) return fail_nomem();
    return aligned_checked(page, rounded & ~(page - 1));
}

static __attribute__((noinline)) size_t usable_size_unowned(void *ptr)
{
    if (boot_owns(ptr)) return boot_size(ptr);
    nth_heap *heap = heap_get();
    if (!heap) return 0;
    size_t usable = nth_heap_usable_size_as(heap, ptr, "malloc_usable_size"); /* reports the bad pointer */
    return usable == NTH_SIZE_ERROR ? 0 : usable;
}

NTH_EXPORT size_t malloc_usable_size(void *ptr)
{
    if (!ptr) return 0;
    nth_heap *owner = nth_heap_owner(ptr); /* lock-free; nth_heap_usable_size checks the block */
    if (NTH_UNLIKELY(!owner)) return usable_size_unowned(ptr);
    size_t usable = nth_heap_usable_size_as(owner, ptr, "malloc_usable_size");
    return usable == NTH_SIZE_ERROR ? 0 : usable;
}

/* ------------------------------------------------------------- glibc statistics extensions */

/* Compacts the process heap (coalesce, decommit free pages). Returns 1 if committed memory went
 * down, as glibc returns 1 when memory was given back. `pad` is ignored: the engine's decommit
 * thresholds decide what stays committed. */
NTH_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    nth_heap *heap = heap_get();
    nth_heap_stats before, after;
    if (!heap || !nth_heap_query_stats(heap, &before)) return 0;
    (void)nth_heap_compact(heap, 0);
    if (!nth_heap_query_stats(heap, &after)) return 0;
    return after.committed < before.committed;
}

/* glibc's fields, filled from the process heap's statistics: arena = bytes committed for
 * segments, hblks/hblkhd = big blocks mapped on their own, fordblks/ordblks = free back-end
 * blocks, uordblks = arena - fordblks (blocks in use and heap metadata). Other heaps created with
 * nth_heap_create are not the malloc arena and are not counted. */
NTH_EXPORT struct mallinfo2 mallinfo2(void)
{
    struct mallinfo2 info;
    memset(&info, 0, sizeof info);
    nth_heap *heap = heap_get();
    nth_heap_stats stats;
    if (!heap || !nth_heap_query_stats(heap, &stats)) return info;
    info.arena = stats.committed > stats.big_bytes ? stats.committed - stats.big_bytes : 0;
    info.ordblks = stats.free_blocks;
    info.hblks = stats.big_blocks;
    info.hblkhd = stats.big_bytes;
    info.fordblks = stats.free_bytes;
    info.uordblks = info.arena > info.fordblks ? info.arena - info.fordblks : 0;
    return info;
}

NTH_EXPORT void malloc_stats(void)
{
    nth_heap *heap = heap_get();
    nth_heap_stats stats;
    if (!heap || !nth_heap_query_stats(heap, &stats)) return;
    fprintf(stderr,
            "ntheap process heap %p:\n"
            "reserved bytes   = %zu\n"
            "committed bytes  = %zu\n"
            "in use bytes     = %zu (%zu blocks, %zu from the LFH)\n"
            "free bytes       = %zu (%zu blocks, largest %zu)\n"
            "big blocks       = %zu (%zu bytes mapped)\n"
            "segments         = %zu\n",
            (void *)heap, stats.reserved, stats.committed, stats.busy_bytes, stats.busy_blocks,
            stats.lfh_blocks, stats.free_bytes, stats.free_blocks, stats.largest_free,
            stats.big_blocks, stats.big_bytes, stats.segments);
}
