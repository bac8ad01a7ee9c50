/*
 * regions.c — the process-wide cache of segment reservations that destroyed heaps gave back,
 * handed to new heaps and new segments instead of fresh reservations.
 *
 * Destroying a heap of a million blocks used to unmap each of its segments, and the kernel then
 * freed every page of them there and then; a program that builds and drops heaps (a request
 * arena, a parser's scratch heap) paid for that on every destroy and faulted the pages in again
 * on the next heap. Now a destroyed heap's segments come here whole:
 *
 *   entry   | hot: committed, old contents | reserved, inaccessible (or, when `scattered`,
 *           ^ base                         ^ base+hot   committed ranges further on)   ^ +reserve
 *
 * A new segment takes an entry of exactly the size it would reserve (a heap's segments double
 * in a fixed sequence, so a heap like the destroyed one finds each of its sizes; and the sizes
 * a heap's segments have stay what the docs say), starts with the hot prefix committed
 * (no page faults to fill it again), and clears what it reads as its own header; a scattered
 * tail is decommitted first, so the new segment's uncommitted range is what it says. Nothing
 * in a cached region is in the address map (a stale pointer into one finds no owner). ASan
 * builds with asan_poison keep a cached region poisoned whole (a use after destroy is reported
 * at the access) and hand it out unpoisoned.
 *
 * Bounds: at most SLOTS entries and segment_cache_max hot bytes (oldest given back first);
 * entries are given back once segment_cache_decay_ms passed since they were cached and since
 * the last time any region was asked for, at the next cache operation or big-block epoch of any
 * heap (no background thread); nth_regions_release_all (compaction,
 * malloc_trim, a refused reservation) gives everything back at once. Private metadata pages
 * pooled by vm_linux.c age out with them.
 *
 * Locking: regions_lock is innermost but for the address map (rank NTH_RANK_REGIONS); only
 * vm calls are made under it.
 */
#include "heap/debug/visibility.h"
#include "heap/internal.h"
#include "heap/vm.h"

#define SLOTS 64u

typedef struct region {
    char *base;
    size_t reserve;
    size_t hot;       /* committed prefix */
    bool scattered;   /* committed ranges past the first uncommitted one */
    uint64_t since_ms;
} region;

static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static region table[SLOTS];
static uint32_t n_regions;
static size_t hot_bytes;
static uint64_t last_take_ms; /* while new heaps keep taking regions, the cache stays warm */

static void drop(uint32_t i)
{
    nth_vm_release(table[i].base, table[i].reserve);
    hot_bytes -= table[i].hot;
    table[i] = table[--n_regions];
}

/* The oldest entry's index; pre: n_regions > 0. */
static uint32_t oldest(void)
{
    uint32_t o = 0;
    for (uint32_t i = 1; i < n_regions; i++)
        if (table[i].since_ms < table[o].since_ms) o = i;
    return o;
}

static void decay_held(uint64_t now)
{
    size_t window = nth_process_defaults.segment_cache_decay_ms;
    for (uint32_t i = 0; i < n_regions;) {
        uint64_t used = table[i].since_ms > last_take_ms ? table[i].since_ms : last_take_ms;
        if (now - used >= window)
            drop(i);
        else
            i++;
    }
    nth_vm_private_pool_trim(now, window);
}

void nth_regions_decay(void)
{
    uint64_t now = nth_vm_clock_ms();
    nth_mutex_lock(&regions_lock, NTH_RANK_REGIONS);
    decay_held(now);
    nth_mutex_unlock(&regions_lock, NTH_RANK_REGIONS);
}

bool nth_regions_put(char *base, size_t reserve, size_t hot, bool scattered)
{
    size_t most = nth_process_defaults.segment_cache_max;
    if (hot > most || nth_process_defaults.segment_cache_decay_ms == 0) return false;
    if (NTH_VIS_ON()) return false; /* memcheck still holds the old blocks' states for these pages */
    uint64_t now = nth_vm_clock_ms();
    nth_mutex_lock(&regions_lock, NTH_RANK_REGIONS);
    decay_held(now);
    while (n_regions > 0 && (n_regions == SLOTS || hot_bytes + hot > most)) drop(oldest());
    table[n_regions++] = (region){base, reserve, hot, scattered, now};
    hot_bytes += hot;
    nth_mutex_unlock(&regions_lock, NTH_RANK_REGIONS);
    if (NTH_ASAN && nth_process_defaults.asan_poison) NTH_ASAN_POISON(base, reserve); /* a use after destroy */
    return true;
}

char *nth_regions_take(size_t size, size_t *reserve, size_t *hot)
{
    uint64_t now = nth_vm_clock_ms();
    nth_mutex_lock(&regions_lock, NTH_RANK_REGIONS);
    decay_held(now);
    int best = -1;
    for (uint32_t i = 0; i < n_regions; i++)
        if (table[i].reserve == size && (best < 0 || table[i].hot > table[best].hot)) best = (int)i;
    region r = {0};
    last_take_ms = now;
    if (best >= 0) {
        r = table[best];
        hot_bytes -= r.hot;
        table[best] = table[--n_regions];
    }
    nth_mutex_unlock(&regions_lock, NTH_RANK_REGIONS);
    if (!r.base) return NULL;
    if (r.scattered) nth_vm_decommit(r.base + r.hot, r.reserve - r.hot);
    NTH_ASAN_UNPOISON(r.base, r.reserve); /* the new heap starts clean, whatever the old one poisoned */
    *reserve = r.reserve;
    *hot = r.hot;
    return r.base;
}

size_t nth_regions_release_all(void)
{
    nth_mutex_lock(&regions_lock, NTH_RANK_REGIONS);
    size_t released = 0;
    while (n_regions > 0) {
        released += table[n_regions - 1].reserve;
        drop(n_regions - 1);
    }
    nth_vm_private_pool_trim(0, 0);
    nth_mutex_unlock(&regions_lock, NTH_RANK_REGIONS);
    return released;
}

size_t nth_regions_cached_bytes(void)
{
    nth_mutex_lock(&regions_lock, NTH_RANK_REGIONS);
    size_t bytes = hot_bytes;
    nth_mutex_unlock(&regions_lock, NTH_RANK_REGIONS);
    return bytes;
}

void nth_regions_fork_prepare(void)
{
    nth_mutex_lock(&regions_lock, NTH_RANK_REGIONS);
}

void nth_regions_fork_release(void)
{
    nth_mutex_unlock(&regions_lock, NTH_RANK_REGIONS);
}
