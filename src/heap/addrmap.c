/*
 * addrmap.c — the address map: which owner (segment, big block, LFH subsegment) holds each
 * 64 KiB chunk of the address space. It is how a pointer is traced to its heap in O(1) without
 * touching the pointed-to memory: a wild or foreign pointer finds no owner and is rejected.
 *
 *   address bits   47 ........ 32 | 31 ........ 16 | 15 .... 0
 *                  root index      leaf index        offset in chunk
 *
 *   root: 32768 pointers (static, zero pages until used) -> leaf: 65536 owner entries (the
 *   owner's address, its lowest bit set for an LFH subsegment: NTH_ADDRMAP_LFH),
 *   mapped on first use (nth_vm_map_private) and never freed (512 KiB of address space, touched
 *   only where used). A leaf that cannot be mapped makes nth_addrmap_set fail with nothing
 *   stored, so the reservation that needed it is given back and the allocation fails cleanly.
 *
 * Every reservation the engine makes is 64 KiB aligned and a multiple of 64 KiB, so a chunk has
 * at most one owner; an LFH subsegment, a back-end block of whole chunks inside a segment, takes
 * its chunks over from the segment while it lives (lfh_subseg.c). Readers are lock-free (acquire
 * loads); writers serialize on map_lock.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "heap/internal.h"
#include "heap/vm.h"

#define ROOT_BITS NTH_ADDRMAP_ROOT_BITS
#define LEAF_BITS NTH_ADDRMAP_LEAF_BITS
#define ADDRESS_BITS NTH_ADDRMAP_ADDRESS_BITS
typedef nth_addrmap_leaf leaf;
#define root nth_addrmap_root

_Atomic(nth_addrmap_leaf *) nth_addrmap_root[1u << NTH_ADDRMAP_ROOT_BITS];
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

static leaf *leaf_for(uintptr_t a, bool create)
{
    size_t r = a >> (NTH_LG_CHUNK + LEAF_BITS);
    leaf *l = atomic_load_explicit(&root[r], memory_order_acquire);
    if (l || !create) return l;
    l = nth_vm_map_private(sizeof(leaf));
    if (!l) return NULL; /* the caller's mapping fails cleanly: nothing was stored */
    atomic_store_explicit(&root[r], l, memory_order_release);
    return l;
}

static bool store_range(const void *base, size_t size, const nth_owner *owner)
{
    uintptr_t start = (uintptr_t)base, end = start + size;
    if ((end - 1) >> ADDRESS_BITS) return false;
    uintptr_t entry = (uintptr_t)owner | (owner && owner->kind == OWNER_LFH ? NTH_ADDRMAP_LFH : 0);
    bool ok = true;
    nth_mutex_lock(&map_lock, NTH_RANK_ADDRMAP);
    /* Create every leaf first, so a failure changes nothing. */
    for (uintptr_t a = start; a < end && ok; a += NTH_CHUNK)
        if (!leaf_for(a, owner != NULL) && owner) ok = false;
    for (uintptr_t a = start; a < end && ok; a += NTH_CHUNK) {
        leaf *l = leaf_for(a, false);
        if (l)
            atomic_store_explicit(&l->entry[(a >> NTH_LG_CHUNK) & ((1u << LEAF_BITS) - 1)], entry,
                                  memory_order_release);
    }
    nth_mutex_unlock(&map_lock, NTH_RANK_ADDRMAP);
    return ok;
}

void nth_addrmap_fork_prepare(void)
{
    nth_mutex_lock(&map_lock, NTH_RANK_ADDRMAP);
}

void nth_addrmap_fork_release(void)
{
    nth_mutex_unlock(&map_lock, NTH_RANK_ADDRMAP);
}

bool nth_addrmap_set(const void *base, size_t size, const nth_owner *owner)
{
    return store_range(base, size, owner);
}

void nth_addrmap_clear(const void *base, size_t size)
{
    store_range(base, size, NULL);
}
