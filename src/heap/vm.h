/*
 * vm.h — the platform seam. vm_linux.c is the only file that calls mmap, mprotect, madvise,
 * mremap, munmap or reads the system's randomness; the rest of the engine reserves, commits,
 * decommits and releases heap memory through these functions, in NT's terms, and maps its own
 * metadata (thread caches, address-map leaves) with nth_vm_map_private.
 *
 *   heap memory      reserve -> commit <-> decommit -> release, remap (big blocks), protect
 *   engine metadata  map_private -> unmap_private (zeroed, read/write, never in the address map)
 *   waiting          wait / wake_one on a 32-bit word (the heap lock's sleep)
 *   seed             nth_random64
 *
 * Every address and size is a multiple of the page size unless stated. Functions return true
 * (or non-NULL) on success; on failure nothing changed.
 *
 * Tests make the N-th call of one kind fail with nth_vm_inject_failure(); every kind of mapping
 * the engine makes has its fault kind, so no mapping is out of the tests' reach.
 */
#ifndef NTH_VM_H
#define NTH_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* pre: size > 0, alignment a power of two >= page. post: [result, result+size) is reserved,
 * inaccessible, and aligned to `alignment`. NULL when the address space is exhausted. */
void *nth_vm_reserve(size_t size, size_t alignment);

/* pre: the range lies in one reservation. post: readable and writable (executable too when
 * asked), zero-filled where it was never committed or was decommitted. */
bool nth_vm_commit(void *addr, size_t size, bool executable);

/* post: the range is inaccessible again and its physical pages are given back. */
void nth_vm_decommit(void *addr, size_t size);

/* post: the whole reservation is gone. */
void nth_vm_release(void *addr, size_t size);

/* Grows or shrinks a committed mapping [addr, addr+old_size), keeping its contents, moving it
 * when it cannot grow in place and may_move is set. The new range is aligned to `alignment`
 * when the mapping moves. NULL when it can do neither (the old mapping is untouched). */
void *nth_vm_remap(void *addr, size_t old_size, size_t new_size, size_t alignment, bool may_move);

/* pre: [target, target+new_size) is a reservation from nth_vm_reserve, [addr, addr+old_size) a
 * committed mapping. post: the pages (contents and protection) live at target, without copying;
 * the old range is gone. False when the move failed: the old mapping is untouched and the caller
 * still owns (and releases) the target. */
bool nth_vm_move(void *addr, size_t old_size, void *target, size_t new_size);

/* Access of committed memory, for nth_vm_protect. */
enum nth_vm_access { NTH_VM_NO_ACCESS, NTH_VM_READ, NTH_VM_READ_WRITE };

/* pre: the range is committed (or was protected by this function). post: accessible as asked;
 * NO_ACCESS keeps the pages (contents survive) but any touch faults, as a guard page does. */
bool nth_vm_protect(void *addr, size_t size, enum nth_vm_access access);

/* Engine metadata: `size` bytes (rounded up to pages) of zeroed, readable and writable memory
 * that no heap owns. NULL when the system refuses. */
void *nth_vm_map_private(size_t size);
/* pre: addr and size as passed to / returned by nth_vm_map_private. Small mappings may be kept
 * for reuse (not readable by anyone else: they stay engine-private). */
void nth_vm_unmap_private(void *addr, size_t size);
/* Unmaps the kept small mappings when none was kept for idle_ms (0: at once). */
void nth_vm_private_pool_trim(uint64_t now_ms, uint64_t idle_ms);
/* fork(): the pool's lock, taken last and released first by the engine's fork handlers. */
void nth_vm_fork_prepare(void);
void nth_vm_fork_release(void);

/* Blocks the calling thread while *word still holds `expected` (it may also return early, for
 * no reason: callers look again). The heap lock's wait (lock.c). */
void nth_vm_wait(_Atomic uint32_t *word, uint32_t expected);
/* Wakes one thread blocked in nth_vm_wait on `word`, if any. */
void nth_vm_wake_one(_Atomic uint32_t *word);

/* A coarse monotonic clock in milliseconds (cheap: for decay decisions, not for timing). */
uint64_t nth_vm_clock_ms(void);

/* 64 unpredictable bits (the system's random source; a time/address mix when it has none). */
uint64_t nth_random64(void);

enum nth_vm_fault {
    NTH_VM_FAULT_RESERVE, /* nth_vm_reserve, and the fresh reservation of a moving remap */
    NTH_VM_FAULT_COMMIT,  /* nth_vm_commit */
    NTH_VM_FAULT_REMAP,   /* a growing nth_vm_remap (in place or moving), nth_vm_move */
    NTH_VM_FAULT_PRIVATE, /* nth_vm_map_private: thread caches, address-map leaves */
    NTH_VM_FAULT_PROTECT, /* nth_vm_protect */
    NTH_VM_FAULT_KINDS
};
/* Makes the n-th next call of that kind fail (n = 1: the next one); 0 disables. For tests. */
void nth_vm_inject_failure(enum nth_vm_fault kind, unsigned n);
/* The calls of that kind still to go before the injected failure (0: none pending). For tests
 * that must know whether the failure was reached. */
unsigned nth_vm_pending_failure(enum nth_vm_fault kind);

#endif
