/*
 * vm.h — the virtual-memory seam. vm_linux.c is the only file that calls mmap, mprotect,
 * madvise, mremap and munmap; the rest of the engine reserves, commits, decommits and releases
 * through these functions, in NT's terms.
 *
 * Every address and size is a multiple of the page size unless stated. Functions return true
 * (or non-NULL) on success; on failure nothing changed.
 *
 * Tests make the N-th reserve, commit or growing remap fail with nth_vm_inject_failure().
 */
#ifndef NTH_VM_H
#define NTH_VM_H

#include <stdbool.h>
#include <stddef.h>

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

/* Engine metadata that user memory must not reach (LFH descriptors, thread caches): a private,
 * committed, zero-filled mapping of its own, never part of a heap's reservations. NULL on
 * failure. */
void *nth_vm_map_private(size_t size);
void nth_vm_unmap_private(void *addr, size_t size);

/* pre: [target, target+new_size) is a reservation from nth_vm_reserve, [addr, addr+old_size) a
 * committed mapping. post: the pages (contents and protection) live at target, without copying;
 * the old range is gone. False when the move failed: the old mapping is untouched and the caller
 * still owns (and releases) the target. */
bool nth_vm_move(void *addr, size_t old_size, void *target, size_t new_size);

/* RESERVE: nth_vm_reserve. COMMIT: nth_vm_commit. REMAP: a growing nth_vm_remap, nth_vm_move.
 * PRIVATE: nth_vm_map_private. */
enum nth_vm_fault { NTH_VM_FAULT_RESERVE, NTH_VM_FAULT_COMMIT, NTH_VM_FAULT_REMAP, NTH_VM_FAULT_PRIVATE };
/* Makes the n-th next call of that kind fail (n = 1: the next one); 0 disables. For tests. */
void nth_vm_inject_failure(enum nth_vm_fault kind, unsigned n);

#endif
