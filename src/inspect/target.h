/*
 * target.h — the inspector's view of a target (this process, a live process, a core file):
 * the public API of <ntheap/inspect.h> plus the read seam the traversal (heap/iter.h) runs on.
 *
 *   nth_target_open_* ─► mappings (maps / NT_FILE) ─► registries (ELF symbols) ─► heap list
 *                    └─► reader (page cache over process_vm_readv / core PT_LOAD)  ─► nth_mem
 */
#ifndef NTH_INSPECT_TARGET_H
#define NTH_INSPECT_TARGET_H

#include "ntheap/inspect.h"
#include "heap/iter.h"

/* The read seam over the target's memory: every read is checked, none can fault. */
NTH_INSPECT_API const nth_mem *nth_target_mem(const nth_target *target);

#endif
