/*
 * <ntheap/inspect.h> — libntheap-inspect: find and read the ntheap heaps of this process, of
 * another live process (by pid) or of a core file, from outside the engine that owns them.
 *
 * A target is opened once; it finds the versioned registry symbol (nth_heap_registry) of every
 * ntheap engine mapped in it, checks its magic, layout version and structure sizes, and lists
 * the heaps in registry order. Nothing of the target is written; a live process is stopped
 * (every thread, ptrace) while it is open unless NTH_TARGET_NO_STOP is given, and resumed by
 * nth_target_close. On failure the open functions return NULL and write a one-line reason.
 *
 * Link with -lntheap-inspect (pkg-config ntheap-inspect).
 */
#ifndef NTHEAP_INSPECT_H
#define NTHEAP_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NTH_INSPECT_API __attribute__((visibility("default")))
#else
#define NTH_INSPECT_API
#endif

typedef struct nth_target nth_target;

/* -p without a ptrace stop: reads best effort; a walk reports torn state as problems. */
#define NTH_TARGET_NO_STOP 1u

NTH_INSPECT_API nth_target *nth_target_open_self(char *error, size_t error_size);
NTH_INSPECT_API nth_target *nth_target_open_pid(int pid, unsigned flags, char *error, size_t error_size);
NTH_INSPECT_API nth_target *nth_target_open_core(const char *path, char *error, size_t error_size);
/* Resumes a stopped process; frees everything. */
NTH_INSPECT_API void nth_target_close(nth_target *target);

/* Heaps in registry order (every registry found, in mapping order). */
NTH_INSPECT_API size_t nth_target_heap_count(const nth_target *target);
NTH_INSPECT_API uintptr_t nth_target_heap_address(const nth_target *target, size_t index);
/* The process heap of the first registry that has one, or 0. */
NTH_INSPECT_API uintptr_t nth_target_process_heap(const nth_target *target);
/* "pid 123 (prog)", "core FILE", "this process". */
NTH_INSPECT_API const char *nth_target_describe(const nth_target *target);
/* Copies `length` bytes of the target at `address`; 0 on success, -1 when unreadable. */
NTH_INSPECT_API int nth_target_read(const nth_target *target, uintptr_t address, void *buffer, size_t length);

/* The target's memory mappings, in address order. */
typedef struct nth_target_mapping {
    uintptr_t start, end;   /* [start, end) */
    uint64_t offset;        /* file offset of start */
    unsigned prot;          /* 4 read, 2 write, 1 execute (as PROT_*) */
    const char *path;       /* the mapped file, "[stack]", ... or "" */
} nth_target_mapping;

NTH_INSPECT_API size_t nth_target_mapping_count(const nth_target *target);
NTH_INSPECT_API const nth_target_mapping *nth_target_mapping_at(const nth_target *target, size_t index);
/* The threads of a stopped process or of a core file (NT_PRSTATUS notes), with their stack
 * pointer and general registers as they were when read; for this process only the calling
 * thread, with the stack pointer of the nth_target_open_self call and no registers. A process
 * read with NTH_TARGET_NO_STOP has none (its registers cannot be read while it runs). */
typedef struct nth_target_thread {
    int tid;
    uintptr_t sp;           /* the stack pointer */
    uintptr_t live_low;     /* the lowest live stack address: sp less the ABI's red zone */
    size_t n_regs;
    uint64_t regs[40];      /* general registers, in the machine's user_regs order */
} nth_target_thread;

NTH_INSPECT_API size_t nth_target_thread_count(const nth_target *target);
NTH_INSPECT_API const nth_target_thread *nth_target_thread_at(const nth_target *target, size_t index);

/* Where the registry the heap came from was found ("libntheap.so.0 (.dynsym)"). */
NTH_INSPECT_API const char *nth_target_registry_source(const nth_target *target, size_t heap_index);

#ifdef __cplusplus
}
#endif
#endif
