/*
 * target_internal.h — what the files of src/inspect share: the target object, the page cache
 * over process_vm_readv, the ELF symbol lookup and the registry search.
 *
 *   target.c         open/close common part, heap list, public accessors
 *   target_pid.c     a live process: /proc/PID/maps, ptrace stop of every thread
 *   target_core.c    an ELF core file: PT_LOAD segments, NT_FILE mapped files; a memory image
 *   page_cache.c     reads of a live process, 64 KiB lines, one syscall per line
 *   elf_symbols.c    a symbol's value and the load layout of an ELF file on disk
 *   registry.c       finds every nth_heap_registry of a target, checks it, lists heaps
 *   owner_map.c      which owner record holds an address (the seam's owner_of)
 *   symbolize.c      an address of the target named as module+offset and symbol+offset
 *   debug_tables.c   the debug heap's tables: stack traces, delayed frees, tags (debug_read.h)
 *
 * Invariant: mappings are sorted by start and do not overlap; heaps[] holds distinct addresses.
 */
#ifndef NTH_INSPECT_TARGET_INTERNAL_H
#define NTH_INSPECT_TARGET_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "inspect/target.h"

/* ------------------------------------------------------------------------- page_cache.c */

#define NTH_CACHE_LINE_LG 16
#define NTH_CACHE_LINE ((size_t)1 << NTH_CACHE_LINE_LG)
#define NTH_CACHE_LINES 512u /* 32 MiB at most, allocated on use */

typedef struct nth_cache_line {
    uintptr_t base;          /* line address; 0: empty */
    uint16_t valid;          /* bit i: page i of the line was read */
    unsigned char *bytes;
} nth_cache_line;

typedef struct nth_page_cache {
    int pid;
    const nth_target *target; /* its mappings say which pages are readable */
    nth_cache_line lines[NTH_CACHE_LINES];
    uint64_t syscalls;        /* process_vm_readv calls made */
} nth_page_cache;

bool nth_cache_read(nth_page_cache *cache, uintptr_t address, void *buffer, size_t length);
void nth_cache_release(nth_page_cache *cache);

/* ------------------------------------------------------------------------ elf_symbols.c */

typedef struct nth_elf_symbol {
    uint64_t value;        /* st_value */
    uint64_t size;
    uint64_t first_vaddr;  /* lowest PT_LOAD p_vaddr, page aligned down */
    uint64_t first_offset; /* its p_offset, page aligned down */
    bool relocatable;      /* ET_DYN: loaded at a bias */
    const char *table;     /* ".dynsym" or ".symtab" */
} nth_elf_symbol;

/* Looks `name` up in the ELF file at `path` (.dynsym first, then .symtab). */
bool nth_elf_find_symbol(const char *path, const char *name, nth_elf_symbol *out);

/* ----------------------------------------------------------------------------- target */

enum nth_target_kind { NTH_TARGET_SELF, NTH_TARGET_PID, NTH_TARGET_CORE };

typedef struct nth_core_segment {
    uintptr_t start, end;    /* memory [start, end) */
    uint64_t offset, filesz; /* its bytes in the file: [offset, offset + filesz) */
} nth_core_segment;

typedef struct nth_owner_range {
    uintptr_t start, end, record;
} nth_owner_range;

typedef struct nth_owner_ranges {
    nth_owner_range *items;
    size_t n, cap;
} nth_owner_ranges;

/* owner_map.c: the read seam's owner_of, built on first use from the heaps' lists. */
uintptr_t nth_target_owner_of(const nth_mem *mem, uintptr_t address);

typedef struct nth_target_heap {
    uintptr_t address;
    uint32_t source;         /* index into sources[] */
} nth_target_heap;

struct nth_target {
    enum nth_target_kind kind;
    nth_mem mem;
    char describe[160];
    /* mappings */
    nth_target_mapping *maps;
    size_t n_maps, cap_maps;
    /* threads (stopped process, core NT_PRSTATUS, or the caller of open_self) */
    nth_target_thread *threads;
    size_t n_threads;
    /* live process */
    int pid;
    int *stopped;            /* thread ids stopped by ptrace */
    size_t n_stopped;
    nth_page_cache *cache;
    /* core file (or a memory image: core_borrowed, not unmapped at close) */
    bool core_borrowed;
    const unsigned char *core;
    size_t core_size;
    nth_core_segment *segs;
    size_t n_segs;
    /* registries and heaps */
    char sources[4][160];
    uintptr_t registries[4]; /* the address of each source's registry */
    uint32_t n_sources;
    char file_root[64];      /* prefix of the mapped files' paths as this process opens them */
    uintptr_t process_heap;
    nth_target_heap *heaps;
    size_t n_heaps;
    /* owner ranges (owner_map.c) */
    bool owners_built;
    nth_owner_ranges inner, outer;
};

/* Appends a mapping (paths are copied); false when out of memory. */
bool nth_target_add_mapping(nth_target *t, uintptr_t start, uintptr_t end, uint64_t offset, unsigned prot,
                            const char *path);
/* Appends a thread; false when out of memory. */
bool nth_target_add_thread(nth_target *t, const nth_target_thread *thread);
/* Fills `out` from a thread's general registers as the kernel lays them out for machine `em`
 * (user_regs_struct: EM_X86_64, 27 words, rsp the 20th; EM_AARCH64, 34 words, sp the 32nd);
 * false for another machine or too few words. */
bool nth_thread_from_regs(nth_target_thread *out, int tid, unsigned em, const uint64_t *regs, size_t n_regs);
/* The ELF machine of this process (EM_X86_64, EM_AARCH64, or 0). */
unsigned nth_host_machine(void);
/* Sorts the mappings. */
void nth_target_sort_mappings(nth_target *t);
nth_target *nth_target_new(enum nth_target_kind kind);
/* Frees what the common part owns (not the pid/core resources). */
void nth_target_free(nth_target *t);

/* A target over a memory image, read as a core file's PT_LOAD segments are: segs[i] names
 * memory [start, end) whose first filesz bytes are bytes[offset, offset + filesz); each segment
 * is also a writable anonymous mapping. The heap list is given (no registry search). `bytes`
 * is borrowed and must outlive the target; segs and heaps are copied. For tests and the
 * fuzz target: the traversal and the views run over arbitrary bytes through it. */
nth_target *nth_target_open_image(const unsigned char *bytes, size_t size, const nth_core_segment *segs, size_t n_segs,
                                  const uintptr_t *heaps, size_t n_heaps, char *error, size_t error_size);

/* The kind-specific parts of nth_target_close (target.c). */
void nth_target_release_live(nth_target *t);
void nth_target_release_core(nth_target *t);

/* Finds the registries through the mappings' files (`file_root` prefixes every path, e.g.
 * "/proc/PID/root"; may be ""), checks them and lists the heaps. False with a reason. */
bool nth_registry_load(nth_target *t, const char *file_root, char *error, size_t error_size);

/* error formatting shared by the open functions */
void nth_target_error(char *error, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));

#endif
