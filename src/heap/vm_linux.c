/*
 * vm_linux.c — the Linux implementation of the virtual-memory seam (vm.h).
 *
 *   reserve   mmap(PROT_NONE, MAP_NORESERVE), over-sized then trimmed to the alignment
 *   commit    mprotect(READ|WRITE[|EXEC])
 *   decommit  madvise(DONTNEED) then mprotect(NONE): the pages are freed and touching them faults,
 *             as decommitted memory does on Windows
 *   release   munmap
 *   remap     mremap in place, else a fresh aligned reservation and mremap(MAYMOVE|FIXED) onto it
 *             (pages move without copying)
 *   move      mremap(MAYMOVE|FIXED) onto a reservation the caller made (and registered) first
 *   protect   mprotect(NONE | READ | READ|WRITE)
 *   private   mmap(READ|WRITE) of zeroed pages for engine metadata; munmap, or a pool of freed
 *             small ones (reused zeroed; given back when idle or on request)
 *   wait      futex(FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE) on the lock word
 *   clock     clock_gettime(CLOCK_MONOTONIC_COARSE), milliseconds
 *   random    getrandom(GRND_NONBLOCK), else a mix of the clock, the pid and a stack address
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <string.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "heap/vm.h"
#include "heap/debug/visibility.h"

static _Atomic unsigned fault_countdown[NTH_VM_FAULT_KINDS];

void nth_vm_inject_failure(enum nth_vm_fault kind, unsigned n)
{
    atomic_store(&fault_countdown[kind], n);
}

unsigned nth_vm_pending_failure(enum nth_vm_fault kind)
{
    return atomic_load(&fault_countdown[kind]);
}

static bool injected_failure(enum nth_vm_fault kind)
{
    unsigned n = atomic_load_explicit(&fault_countdown[kind], memory_order_relaxed);
    while (n != 0) {
        if (atomic_compare_exchange_weak(&fault_countdown[kind], &n, n - 1)) return n == 1;
    }
    return false;
}

void *nth_vm_reserve(size_t size, size_t alignment)
{
    if (injected_failure(NTH_VM_FAULT_RESERVE)) return NULL;
    size_t padded = size + alignment;
    if (padded < size) return NULL;
    char *raw = mmap(NULL, padded, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *aligned = (char *)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
    if (aligned > raw) munmap(raw, (size_t)(aligned - raw));
    char *end = aligned + size;
    if (raw + padded > end) munmap(end, (size_t)(raw + padded - end));
    return aligned;
}

bool nth_vm_commit(void *addr, size_t size, bool executable)
{
    if (injected_failure(NTH_VM_FAULT_COMMIT)) return false;
    int prot = PROT_READ | PROT_WRITE | (executable ? PROT_EXEC : 0);
    return mprotect(addr, size, prot) == 0;
}

void nth_vm_decommit(void *addr, size_t size)
{
    madvise(addr, size, MADV_DONTNEED);
    mprotect(addr, size, PROT_NONE);
}

void nth_vm_release(void *addr, size_t size)
{
    NTH_ASAN_UNPOISON(addr, size); /* the next mapping here starts clean */
    munmap(addr, size);
}

void *nth_vm_remap(void *addr, size_t old_size, size_t new_size, size_t alignment, bool may_move)
{
    if (new_size > old_size && injected_failure(NTH_VM_FAULT_REMAP)) return NULL;
    void *in_place = mremap(addr, old_size, new_size, 0);
    if (in_place != MAP_FAILED) {
        if (new_size < old_size) NTH_ASAN_UNPOISON((char *)addr + new_size, old_size - new_size);
        return in_place;
    }
    if (!may_move) return NULL;
    if (injected_failure(NTH_VM_FAULT_RESERVE)) return NULL;
    char *target = nth_vm_reserve(new_size, alignment);
    if (!target) return NULL;
    void *moved = mremap(addr, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    if (moved == MAP_FAILED) {
        munmap(target, new_size);
        return NULL;
    }
    NTH_ASAN_UNPOISON(addr, old_size); /* gone from here: the next mapping here starts clean */
    return moved;
}

bool nth_vm_protect(void *addr, size_t size, enum nth_vm_access access)
{
    if (injected_failure(NTH_VM_FAULT_PROTECT)) return false;
    int prot = access == NTH_VM_READ_WRITE ? PROT_READ | PROT_WRITE : access == NTH_VM_READ ? PROT_READ : PROT_NONE;
    return mprotect(addr, size, prot) == 0;
}

/* The system's page size, asked once (sysconf costs a hundred instructions, and a destroyed
 * heap's metadata comes back here a mapping at a time). */
static size_t system_page(void)
{
    static _Atomic size_t cached;
    size_t page = atomic_load_explicit(&cached, memory_order_relaxed);
    if (page == 0) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&cached, page, memory_order_relaxed);
    }
    return page;
}

static size_t page_round(size_t size)
{
    size_t page = system_page();
    return (size + page - 1) & ~(page - 1);
}

/* Freed private mappings of up to POOL_CLASSES pages wait here for the next request of their
 * size (a destroyed heap's LFH metadata serves the next heap's), up to POOL_MAX bytes, linked
 * through their first word. They are zeroed again when handed out.
 *
 * Requests of at most SLOT_MAX bytes share pages: slots of 256, 512, 1024 or 2048 bytes (aligned
 * to their size), carved from 64 KiB mappings a page at a time, kept on a free list per size
 * when freed (never unmapped: they stay engine-private and are bounded by the peak in use).
 * Small metadata (a thread cache, an LFH subsegment's descriptor for a large block size) thus
 * costs a slot of resident memory instead of a page. */
#define POOL_CLASSES 4u
#define POOL_MAX ((size_t)16 << 20)
#define SLOT_MIN 256u
#define SLOT_CLASSES 4u
#define SLOT_MAX (SLOT_MIN << (SLOT_CLASSES - 1))
#define SLAB_CHUNK ((size_t)64 << 10)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool[POOL_CLASSES];
static size_t pool_bytes;
static uint64_t pool_last_put_ms;
static void *slots[SLOT_CLASSES];
static char *slab_next, *slab_end;

static unsigned slot_class(size_t size)
{
    unsigned c = 0;
    while ((size_t)SLOT_MIN << c < size) c++;
    return c;
}

/* A zeroed slot of class c, or NULL. pre: pool_lock held. */
static void *slot_take(unsigned c, size_t page)
{
    size_t bytes = (size_t)SLOT_MIN << c;
    if (!slots[c]) {
        if (slab_next == slab_end) {
            char *chunk = mmap(NULL, SLAB_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (chunk == MAP_FAILED) return NULL;
            slab_next = chunk;
            slab_end = chunk + SLAB_CHUNK;
        }
        char *fresh = slab_next;
        slab_next += page;
        for (size_t at = page; at >= bytes; at -= bytes) { /* lowest address first out */
            void *slot = fresh + at - bytes;
            memcpy(slot, &slots[c], sizeof(void *));
            slots[c] = slot;
        }
    }
    void *slot = slots[c];
    memcpy(&slots[c], slot, sizeof(void *));
    return memset(slot, 0, bytes);
}

void *nth_vm_map_private(size_t size)
{
    if (injected_failure(NTH_VM_FAULT_PRIVATE)) return NULL;
    size_t page = system_page();
    if (size <= SLOT_MAX && SLOT_MAX <= page) {
        pthread_mutex_lock(&pool_lock);
        void *slot = slot_take(slot_class(size), page);
        pthread_mutex_unlock(&pool_lock);
        return slot;
    }
    size_t bytes = page_round(size), pages = bytes / page;
    if (pages <= POOL_CLASSES) {
        pthread_mutex_lock(&pool_lock);
        void *mem = pool[pages - 1];
        if (mem) {
            memcpy(&pool[pages - 1], mem, sizeof(void *));
            pool_bytes -= bytes;
        }
        pthread_mutex_unlock(&pool_lock);
        if (mem) return memset(mem, 0, bytes);
    }
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return mem == MAP_FAILED ? NULL : mem;
}

void nth_vm_unmap_private(void *addr, size_t size)
{
    size_t page = system_page();
    if (size <= SLOT_MAX && SLOT_MAX <= page) {
        unsigned c = slot_class(size);
        pthread_mutex_lock(&pool_lock);
        memcpy(addr, &slots[c], sizeof(void *));
        slots[c] = addr;
        pthread_mutex_unlock(&pool_lock);
        return;
    }
    size_t bytes = page_round(size), pages = bytes / page;
    if (pages <= POOL_CLASSES) {
        pthread_mutex_lock(&pool_lock);
        bool kept = pool_bytes + bytes <= POOL_MAX;
        if (kept) {
            memcpy(addr, &pool[pages - 1], sizeof(void *));
            pool[pages - 1] = addr;
            pool_bytes += bytes;
            pool_last_put_ms = nth_vm_clock_ms();
        }
        pthread_mutex_unlock(&pool_lock);
        if (kept) return;
    }
    munmap(addr, bytes);
}

void nth_vm_private_pool_trim(uint64_t now_ms, uint64_t idle_ms)
{
    pthread_mutex_lock(&pool_lock);
    if (idle_ms == 0 || now_ms - pool_last_put_ms >= idle_ms) {
        size_t page = system_page();
        for (size_t c = 0; c < POOL_CLASSES; c++) {
            while (pool[c]) {
                void *mem = pool[c];
                memcpy(&pool[c], mem, sizeof(void *));
                munmap(mem, (c + 1) * page);
            }
        }
        pool_bytes = 0;
    }
    pthread_mutex_unlock(&pool_lock);
}

void nth_vm_fork_prepare(void)
{
    pthread_mutex_lock(&pool_lock);
}

void nth_vm_fork_release(void)
{
    pthread_mutex_unlock(&pool_lock);
}

bool nth_vm_move(void *addr, size_t old_size, void *target, size_t new_size)
{
    if (injected_failure(NTH_VM_FAULT_REMAP)) return false;
    if (mremap(addr, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target) == MAP_FAILED) return false;
    NTH_ASAN_UNPOISON(addr, old_size); /* gone from here: the next mapping here starts clean */
    return true;
}

void nth_vm_wait(_Atomic uint32_t *word, uint32_t expected)
{
    /* EAGAIN (the word changed) and EINTR are early returns the caller's loop absorbs. */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

void nth_vm_wake_one(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

uint64_t nth_vm_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t nth_random64(void)
{
    uint64_t value;
    if (getrandom(&value, sizeof value, GRND_NONBLOCK) == (ssize_t)sizeof value) return value;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    value = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32 ^
            (uintptr_t)&value;
    return value;
}
