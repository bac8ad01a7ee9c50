/*
 * ntheap.h — the native ntheap API.
 *
 * ntheap is the Windows NT heap rebuilt for Linux: private growable heaps made of segments that
 * reserve address space and commit it as they grow, back-end free lists that split and coalesce,
 * big blocks mapped straight from virtual memory, the Low Fragmentation Heap front-end, encoded
 * block headers and corruption detection. This header is the native interface; the Win32 names
 * (HeapCreate, HeapWalk, ...) live in <ntheap/win32.h> and are implemented on top of it.
 *
 * Conventions
 *   - Every function that can fail returns NULL, false or NTH_SIZE_ERROR and sets a thread-local
 *     error code, read with nth_last_error(). Successful calls leave the error code untouched,
 *     but for one thing: every report sets it to the reported error, also in a call that then
 *     completes (damage found and contained on the way, an overrun of the tail fill found by the
 *     free that still frees the block), so that the error code and the last report agree.
 *   - Sizes are in bytes. A heap handle is the address of the heap's header, which is the first
 *     block of its first segment, exactly as on Windows.
 *   - A bad pointer (wild, interior, on the stack, from another heap, already freed) is never
 *     followed: the call fails with an error and the misuse goes to the reporter (see
 *     nth_set_report_handler), or terminates the process if the heap asks for that.
 *   - That promise is about blocks. The caller's own structures and buffers (a walk entry, the
 *     statistics, a list to fill, a name) are the caller's to give right, as with any C library:
 *     NULL is refused (NTH_ERR_INVALID_PARAMETER) where a call needs one, any other pointer is
 *     used as given.
 *   - Heaps are thread-safe unless created with NTH_NO_SERIALIZE.
 *
 * Flag values are Windows' HEAP_* values, so the Win32 layer passes them through unchanged.
 */
#ifndef NTHEAP_H
#define NTHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NTH_VERSION_MAJOR 0
#define NTH_VERSION_MINOR 1
#define NTH_VERSION_PATCH 0
#define NTH_VERSION_NUMBER (NTH_VERSION_MAJOR * 10000 + NTH_VERSION_MINOR * 100 + NTH_VERSION_PATCH)

#if defined(__GNUC__)
#define NTH_API __attribute__((visibility("default")))
#define NTH_NODISCARD __attribute__((warn_unused_result))
#define NTH_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
#define NTH_MALLOC_LIKE __attribute__((malloc))
#else
#define NTH_API
#define NTH_NODISCARD
#define NTH_ALLOC_SIZE(n)
#define NTH_MALLOC_LIKE
#endif

/* An opaque heap. Its address is the heap's base address. */
typedef struct nth_heap nth_heap;

/* ---------------------------------------------------------------- flags (Windows' HEAP_* bits) */

#define NTH_NO_SERIALIZE           0x00000001u /* create/call: no lock; the caller serializes */
#define NTH_GROWABLE               0x00000002u /* informational: set on heaps with maximum 0 */
#define NTH_GENERATE_EXCEPTIONS    0x00000004u /* create/call: failures raise (see nth_set_exception_handler) */
#define NTH_ZERO_MEMORY            0x00000008u /* alloc/realloc: zero new bytes */
#define NTH_REALLOC_IN_PLACE_ONLY  0x00000010u /* realloc: fail rather than move */
#define NTH_TAIL_CHECKING_ENABLED  0x00000020u /* create: fill past each block, check on free */
#define NTH_FREE_CHECKING_ENABLED  0x00000040u /* create: fill free blocks, check on reuse */
#define NTH_DISABLE_COALESCE_ON_FREE 0x00000080u /* create: free never merges neighbours */
#define NTH_SETTABLE_USER_VALUE    0x00000100u /* alloc: reserve a per-block user value */
#define NTH_SETTABLE_USER_FLAG1    0x00000200u /* alloc: per-block user flag bits ...      */
#define NTH_SETTABLE_USER_FLAG2    0x00000400u
#define NTH_SETTABLE_USER_FLAG3    0x00000800u
#define NTH_SETTABLE_USER_FLAGS    0x00000E00u
#define NTH_CREATE_ENABLE_EXECUTE  0x00040000u /* create: committed memory is executable */

/* -------------------------------------------------------------------------------- errors */

typedef enum nth_error {
    NTH_OK = 0,
    NTH_ERR_NO_MEMORY,          /* address space or commit exhausted, or a fixed heap is full */
    NTH_ERR_INVALID_PARAMETER,  /* bad flags, size too large, NULL where not allowed */
    NTH_ERR_INVALID_HANDLE,     /* not a live heap handle (or the process heap where forbidden) */
    NTH_ERR_INVALID_POINTER,    /* not the start of a block of this heap */
    NTH_ERR_DOUBLE_FREE,        /* the block is already free */
    NTH_ERR_WRONG_HEAP,         /* the block belongs to another ntheap heap */
    NTH_ERR_CORRUPT,            /* heap metadata is damaged (header, free list, fill pattern) */
    NTH_ERR_CANNOT_MOVE,        /* realloc with NTH_REALLOC_IN_PLACE_ONLY could not grow in place */
    NTH_ERR_NO_MORE_ITEMS,      /* walk: past the last entry */
    NTH_ERR_NOT_LOCKED,         /* unlock without a matching lock by this thread */
    NTH_ERR_NOT_SUPPORTED,      /* the operation does not apply to this heap */
    NTH_ERR_COUNT
} nth_error;

/* The calling thread's last error; untouched by successful calls. */
NTH_API nth_error nth_last_error(void);
NTH_API void nth_set_last_error(nth_error error);
/* A constant name such as "NTH_ERR_DOUBLE_FREE". */
NTH_API const char *nth_error_name(nth_error error);

/* -------------------------------------------------------------------------- create · destroy */

/* Creates a private heap. maximum_size 0 makes it growable: it adds segments (each reserving
 * twice the previous one) and maps big blocks directly. Otherwise the heap is fixed: one segment
 * of maximum_size rounded up to pages, never larger. initial_size is committed up front.
 * Returns NULL with NTH_ERR_NO_MEMORY when the reservation fails. */
NTH_API NTH_NODISCARD nth_heap *nth_heap_create(uint32_t flags, size_t initial_size, size_t maximum_size);

/* Releases every segment and big block of the heap, in O(segments + big blocks). Destroying the
 * process heap fails with NTH_ERR_INVALID_HANDLE. As with HeapDestroy, no other thread may still
 * be calling into the heap or freeing its blocks while it is destroyed: a call that starts after
 * the destroy has returned fails cleanly (NTH_ERR_INVALID_HANDLE for the handle, a report for a
 * pointer into it), but one that overlaps the destroy is a race the library does not survive. */
NTH_API bool nth_heap_destroy(nth_heap *heap);

/* The process heap, created on first use. Never NULL unless the first reservation fails. */
NTH_API nth_heap *nth_process_heap(void);

/* Writes up to `capacity` live heaps (process heap first) to `out` and returns how many exist; a
 * NULL `out` asks for the count alone. */
NTH_API size_t nth_heap_list(nth_heap **out, size_t capacity);

/* True if `heap` is a live heap handle. Never touches memory that is not a registered heap. */
NTH_API bool nth_heap_is_valid_handle(const nth_heap *heap);

/* -------------------------------------------------------------------------------- allocate */

#define NTH_SIZE_ERROR ((size_t)-1)

/* Allocates `size` bytes aligned to 16. Size 0 gives a unique, freeable pointer. Flags: ZERO_MEMORY,
 * NO_SERIALIZE, GENERATE_EXCEPTIONS, SETTABLE_USER_VALUE/FLAGs. NULL with NTH_ERR_NO_MEMORY. */
NTH_API NTH_NODISCARD NTH_MALLOC_LIKE NTH_ALLOC_SIZE(3) void *
nth_heap_alloc(nth_heap *heap, uint32_t flags, size_t size);

/* Allocates `size` bytes aligned to `alignment` (a power of two up to 1 GiB; values up to 16
 * behave as nth_heap_alloc; above 64 KiB the block gets a mapping of its own, so only growable
 * heaps serve them). The block is freed, sized and reallocated like any other (realloc keeps
 * only 16-byte alignment, as realloc does). NULL with NTH_ERR_INVALID_PARAMETER for a bad
 * alignment. */
NTH_API NTH_NODISCARD NTH_MALLOC_LIKE NTH_ALLOC_SIZE(4) void *
nth_heap_alloc_aligned(nth_heap *heap, uint32_t flags, size_t alignment, size_t size);

/* Resizes a block, in place when the neighbour is free or the block shrinks, else by moving
 * (unless NTH_REALLOC_IN_PLACE_ONLY: then NULL with NTH_ERR_CANNOT_MOVE and the block untouched).
 * With ZERO_MEMORY, grown bytes are zeroed. ptr NULL is an error (NTH_ERR_INVALID_POINTER), as
 * on Windows; on any failure the original block is unchanged. */
NTH_API NTH_NODISCARD NTH_ALLOC_SIZE(4) void *
nth_heap_realloc(nth_heap *heap, uint32_t flags, void *ptr, size_t size);
/* nth_heap_alloc whose reports (damage found while allocating) name `call`, e.g. "malloc". */
NTH_API NTH_NODISCARD NTH_MALLOC_LIKE NTH_ALLOC_SIZE(3) void *
nth_heap_alloc_as(nth_heap *heap, uint32_t flags, size_t size, const char *call);
/* nth_heap_realloc whose reports name `call` (a layer's own name, e.g. "realloc"). */
NTH_API NTH_NODISCARD NTH_ALLOC_SIZE(4) void *
nth_heap_realloc_as(nth_heap *heap, uint32_t flags, void *ptr, size_t size, const char *call);

/* Frees a block. NULL is a successful no-op. A bad pointer returns false and is reported. */
NTH_API bool nth_heap_free(nth_heap *heap, uint32_t flags, void *ptr);

/* Frees a block of whichever heap owns it (one address-map lookup finds the heap): what free()
 * is for a malloc replacement. NULL is a no-op; a pointer no heap owns is reported, false. */
NTH_API bool nth_free(void *ptr);
/* nth_free whose reports name `call` (a layer's own name, e.g. "free"); costs nothing unless a
 * report is made. */
NTH_API bool nth_free_as(void *ptr, const char *call);

/* The size requested for the block, or NTH_SIZE_ERROR for a bad pointer. */
NTH_API size_t nth_heap_size(nth_heap *heap, uint32_t flags, const void *ptr);

/* The bytes usable in the block (requested size rounded up to the block's granule), or
 * NTH_SIZE_ERROR. This is what malloc_usable_size reports. */
NTH_API size_t nth_heap_usable_size(nth_heap *heap, const void *ptr);
/* nth_heap_usable_size whose reports name `call` (e.g. "malloc_usable_size"). */
NTH_API size_t nth_heap_usable_size_as(nth_heap *heap, const void *ptr, const char *call);

/* The heap that owns `ptr` if it is a live block of any ntheap heap, else NULL. O(1); never
 * touches memory that is not committed heap memory. */
NTH_API nth_heap *nth_heap_from_pointer(const void *ptr);

/* The heap whose memory `ptr` points into (a segment, big block or LFH subsegment), else NULL,
 * without checking that ptr starts a live block: lock-free, two loads. Pass the result to
 * nth_heap_free / nth_heap_realloc, which do check. This is how a malloc replacement frees. */
NTH_API nth_heap *nth_heap_owner(const void *ptr);

/* Per-block user value and user flags (for blocks allocated with NTH_SETTABLE_USER_VALUE /
 * NTH_SETTABLE_USER_FLAGS): what RtlSetUserValueHeap / RtlSetUserFlagsHeap keep. */
NTH_API bool nth_heap_set_user_value(nth_heap *heap, void *ptr, uintptr_t value);
NTH_API bool nth_heap_get_user_info(nth_heap *heap, const void *ptr, uintptr_t *value, uint32_t *user_flags);
NTH_API bool nth_heap_set_user_flags(nth_heap *heap, void *ptr, uint32_t clear, uint32_t set);

/* ------------------------------------------------------------------- lock · validate · compact */

/* Acquire / release the heap lock (recursive for the owning thread). While a thread holds it,
 * every other thread's operation on the heap waits, including the LFH front-end. Unlock without
 * lock fails with NTH_ERR_NOT_LOCKED. On a NO_SERIALIZE heap both fail with NTH_ERR_NOT_SUPPORTED. */
NTH_API bool nth_heap_lock(nth_heap *heap);
NTH_API bool nth_heap_unlock(nth_heap *heap);

/* Validates one block (ptr != NULL) or the whole heap (ptr == NULL): headers, checksums, links,
 * neighbours, free lists, fill patterns, counters. Problems go to the reporter; returns false. */
NTH_API bool nth_heap_validate(nth_heap *heap, uint32_t flags, const void *ptr);

/* Coalesces free blocks, decommits free pages, and returns the size of the largest free block
 * in committed memory (0 with NTH_OK untouched when there is none). */
NTH_API size_t nth_heap_compact(nth_heap *heap, uint32_t flags);

/* ------------------------------------------------------------------------------------ walk */

/* What a walk entry is. REGION, UNCOMMITTED and blocks are mutually exclusive; BUSY, BIG, LFH,
 * INTERNAL and the user bits qualify blocks. A free block has none of REGION/UNCOMMITTED/BUSY. */
#define NTH_ENTRY_REGION       0x0001u /* a segment: data = its base, size = header bytes */
#define NTH_ENTRY_UNCOMMITTED  0x0002u /* an uncommitted range inside a segment */
#define NTH_ENTRY_BUSY         0x0004u /* an allocated block */
#define NTH_ENTRY_BIG          0x0008u /* a big block mapped on its own (region of its own) */
#define NTH_ENTRY_LFH          0x0010u /* a block inside an LFH subsegment */
#define NTH_ENTRY_INTERNAL     0x0020u /* a block the heap allocated for itself */
#define NTH_ENTRY_USER_VALUE   0x0040u /* the block has a settable user value */
#define NTH_ENTRY_DAMAGED      0x0080u /* a free block taken out of service (its links were overwritten) */
#define NTH_ENTRY_USER_FLAG1   0x0200u /* user flag bits, same values as NTH_SETTABLE_USER_FLAG* */
#define NTH_ENTRY_USER_FLAG2   0x0400u
#define NTH_ENTRY_USER_FLAG3   0x0800u

typedef struct nth_walk_entry {
    void *data;            /* block data / region base / uncommitted start; NULL starts a walk */
    size_t size;           /* bytes: requested size, region header size, uncommitted bytes */
    uint32_t overhead;     /* bytes of heap metadata and padding around the data */
    uint16_t region_index; /* the segment index (big blocks: 0) */
    uint16_t flags;        /* NTH_ENTRY_* */
    union {
        struct {
            size_t committed;   /* committed bytes of the segment */
            size_t uncommitted; /* uncommitted bytes of the segment */
            void *first_block;  /* first block header address */
            void *last_block;   /* end of the segment's reservation */
            size_t reserved;    /* bytes of address space reserved */
        } region;
        struct {
            uintptr_t user_value; /* valid with NTH_ENTRY_USER_VALUE */
            void *header;         /* address of the block's header */
            size_t block_size;    /* bytes of the whole block, header included */
        } block;
    } u;
} nth_walk_entry;

/* Steps a walk. Start with entry->data == NULL; each call replaces *entry with the next entry
 * after the one it describes (the position is taken from data and flags only, so a copy of an
 * entry resumes a walk). Order: for each segment in index order (oldest first): its REGION
 * entry, its blocks in address order (LFH blocks after the subsegment that holds them) and
 * uncommitted ranges where they lie; then the big blocks in allocation order. Returns false with
 * NTH_ERR_NO_MORE_ITEMS past the end, NTH_ERR_INVALID_PARAMETER for an entry that is not a
 * position of this heap. Hold nth_heap_lock() across a walk for a consistent picture. */
NTH_API bool nth_heap_walk(nth_heap *heap, nth_walk_entry *entry);

/* ------------------------------------------------------------------------------- statistics */

typedef struct nth_heap_stats {
    size_t reserved;          /* bytes of address space reserved (segments + big blocks) */
    size_t committed;         /* bytes committed (segments + big blocks) */
    size_t busy_bytes;        /* bytes requested by live blocks */
    size_t busy_blocks;       /* live blocks (back-end, big and LFH) */
    size_t free_bytes;        /* bytes in free back-end blocks (headers included) */
    size_t free_blocks;       /* free back-end blocks */
    size_t largest_free;      /* largest free back-end block, bytes */
    size_t big_blocks;        /* live big blocks */
    size_t big_bytes;         /* bytes mapped for big blocks */
    size_t segments;          /* segments (regions) */
    size_t uncommitted_ranges;/* uncommitted ranges over all segments */
    size_t lfh_blocks;        /* live blocks served by the LFH */
    size_t lfh_subsegments;   /* LFH subsegments in use */
    uint64_t commit_ops;      /* commit calls made */
    uint64_t decommit_ops;    /* decommit calls made */
    uint64_t alloc_calls;     /* successful allocations since creation (back-end + big) */
    uint64_t free_calls;      /* successful frees since creation (back-end + big) */
    size_t damaged_blocks;    /* free blocks taken out of service after their links were overwritten */
    size_t damaged_bytes;     /* bytes in them (headers included); not in free_bytes */
} nth_heap_stats;

/* Fills *stats with the heap's counters, read together under the heap's lock. False with
 * NTH_ERR_INVALID_HANDLE for a bad heap, NTH_ERR_INVALID_PARAMETER for stats NULL. */
NTH_API bool nth_heap_query_stats(nth_heap *heap, nth_heap_stats *stats);

/* -------------------------------------------------------------------------------------- tags
 *
 * Tags name groups of allocations on one heap, as Windows' heap tags and pool tags do: each tag
 * counts its allocations, frees, bytes in use and peak bytes. A tag index travels in the
 * allocation flags (bits 18-29, Windows' HEAP_TAG_SHIFT and HEAP_MAXIMUM_TAG); a block remembers
 * its tag, so free and realloc debit the tag it was allocated with. Index 0 counts the blocks
 * allocated on a tagged heap without a tag. A heap with tags runs without the LFH (a debug mode).
 * The counters live outside the heap's memory and go away with the heap. */
#define NTH_TAG_SHIFT 18
#define NTH_MAX_TAG 0x0FFFu
#define NTH_TAG_MASK ((uint32_t)NTH_MAX_TAG << NTH_TAG_SHIFT)
#define NTH_MAKE_TAG_FLAGS(base, index) ((uint32_t)(base) + ((uint32_t)(index) << NTH_TAG_SHIFT))
#define NTH_TAG_NAME_MAX 48

typedef struct nth_tag_stats {
    uint32_t index;               /* the tag index (0: untagged blocks) */
    char name[NTH_TAG_NAME_MAX];  /* as given to nth_heap_create_tag, truncated */
    uint64_t allocs;              /* allocations made with the tag (a moving realloc counts none) */
    uint64_t frees;               /* frees of blocks carrying the tag */
    size_t bytes;                 /* requested bytes of the tag's live blocks */
    size_t peak_bytes;            /* the highest `bytes` has been */
} nth_tag_stats;

/* Creates a tag on the heap and returns its index (1 to NTH_MAX_TAG), or 0 with
 * NTH_ERR_INVALID_PARAMETER (no name, or every index taken) / NTH_ERR_NO_MEMORY. */
NTH_API uint32_t nth_heap_create_tag(nth_heap *heap, const char *name);
/* Copies up to `capacity` tag rows (index order, row 0 first) and returns how many the heap has;
 * 0 for a heap without tags. A NULL `out` asks for the count alone. */
NTH_API size_t nth_heap_tag_stats(nth_heap *heap, nth_tag_stats *out, size_t capacity);
/* One tag's row; with `reset`, its allocation and free counts restart at 0 and its peak at the
 * current bytes. False with NTH_ERR_INVALID_PARAMETER for an index the heap does not have. */
NTH_API bool nth_heap_query_tag(nth_heap *heap, uint32_t index, bool reset, nth_tag_stats *out);

typedef enum nth_tag_sort { NTH_TAG_SORT_BYTES, NTH_TAG_SORT_ALLOCS } nth_tag_sort;
/* Prints the heap's tags as poolmon does (tag, allocs, frees, diff, bytes, peak), biggest first by
 * the chosen column. False for a heap without tags, and with NTH_ERR_INVALID_PARAMETER for a NULL
 * `out`. */
NTH_API bool nth_heap_print_tags(nth_heap *heap, FILE *out, nth_tag_sort sort);

/* ------------------------------------------------------------------- options and reporting */

typedef enum nth_heap_option {
    NTH_OPTION_TERMINATE_ON_CORRUPTION = 1, /* value 0/1: abort with the report on corruption */
    NTH_OPTION_LFH = 2,                     /* value 0/1: Low Fragmentation Heap front-end */
    NTH_OPTION_DECOMMIT_FREE_BLOCK = 3,     /* bytes: free blocks at least this big are decommitted ... */
    NTH_OPTION_DECOMMIT_TOTAL_FREE = 4,     /* bytes: ... once the heap holds more free bytes than this */
    NTH_OPTION_VALIDATE_AT_EXIT = 5,        /* value 0/1, process-wide: validate every heap at exit */
    NTH_OPTION_BIG_CACHE_DECAY_MS = 6,      /* ms: freed big blocks stay mapped while recent demand covers them */
    NTH_OPTION_BIG_CACHE_MAX = 7,           /* bytes: ... up to this many per heap */
    NTH_OPTION_SEGMENT_CACHE_DECAY_MS = 8,  /* ms, process-wide: destroyed heaps' segments stay mapped for new heaps */
    NTH_OPTION_SEGMENT_CACHE_MAX = 9,       /* bytes, process-wide: ... holding at most this many committed bytes */
    /* The debug heap (docs/debug-heap.md): process-wide, read when a heap is created. */
    NTH_OPTION_DEBUG_FILL = 10,             /* 0/1: fill and check new, freed and tail bytes */
    NTH_OPTION_PARAMETER_CHECKING = 11,     /* 0/1: check every call's flags and pointer in full */
    NTH_OPTION_PAGE_HEAP = 12,              /* 0 off, 1 full page heap, 2 light page heap */
    NTH_OPTION_PAGE_HEAP_ALIGN_START = 13,  /* 0/1: blocks start after the guard page */
    NTH_OPTION_PAGE_HEAP_DELAY = 14,        /* freed blocks held back from reuse */
    NTH_OPTION_STACK_TRACES = 15,           /* 0/1: allocation and free stack traces */
    NTH_OPTION_STACK_DEPTH = 16,            /* frames per stack */
    NTH_OPTION_LEAK_REPORT = 17,            /* 0, 1 leaks at exit, 2 also a UMDH snapshot file */
    NTH_OPTION_TAGS = 18,                   /* value 0/1 ("module"), process-wide: tag malloc by caller */
    NTH_OPTION_TAG_REPORT = 19,             /* value 0/1, process-wide: print the tag table at exit */
    NTH_OPTION_ASAN_POISON = 20,            /* value 0/1, process-wide: ASan poisoning (SAN=asan builds) */
    NTH_OPTION_DECOMMIT_DECAY_MS = 21,      /* ms: ... unless recent demand covers them (0: at once) */
} nth_heap_option;

/* heap NULL sets the process-wide default for heaps created afterwards (and, for
 * TERMINATE_ON_CORRUPTION, for every existing heap too, as HeapSetInformation(NULL) does). A value
 * outside the option's range fails with NTH_ERR_INVALID_PARAMETER; VALIDATE_AT_EXIT is
 * process-wide only (a heap argument fails with NTH_ERR_NOT_SUPPORTED). The same names, as
 * lower-case keys, are read once from the NTHEAP_OPTIONS environment variable. */
NTH_API bool nth_heap_set_option(nth_heap *heap, nth_heap_option option, size_t value);
NTH_API bool nth_heap_get_option(nth_heap *heap, nth_heap_option option, size_t *value);

/* The allocation and free stacks of the block at ptr (a live block of a heap created with
 * stack_traces=1, or a page-heap block in the delayed-free queue): up to max return addresses
 * each, innermost first, the engine's own frames left out. Returns false when the debug heap
 * knows no stack for ptr; *n_alloc / *n_free get the depths (0: none recorded). */
NTH_API bool nth_heap_block_stacks(const void *ptr, void **alloc_frames, size_t *n_alloc, void **free_frames,
                                   size_t *n_free, size_t max);
/* Writes a UMDH-style snapshot (busy traced blocks grouped by allocation stack, `ntheap umdh`
 * reads it) to path; with leaks_only, only blocks unreachable from the data segments, the
 * calling thread's stack and other busy blocks. False when it cannot write. */
NTH_API bool nth_heap_write_snapshot(const char *path, bool leaks_only);

/* One report per detected misuse or corruption. */
typedef struct nth_report {
    const char *call;     /* the API call in progress, e.g. "nth_heap_free" or "HeapFree" */
    nth_heap *heap;       /* the heap the call was given */
    const void *address;  /* the pointer or metadata address concerned */
    nth_error error;      /* the error the call returns */
    const char *expected; /* what a sound heap would have had there */
    const char *found;    /* what was found */
    const char *message;  /* the whole formatted line */
} nth_report;

typedef void (*nth_report_handler)(const nth_report *report, void *context);

/* Replaces the reporter's output (default: one line on stderr, which the page heap follows with
 * the block's allocation and free stacks; with a handler, nothing is written to stderr, and the
 * stacks are read with nth_heap_block_stacks). NULL restores the default. The handler runs with the heap
 * lock held: it must not call into the same heap. */
NTH_API void nth_set_report_handler(nth_report_handler handler, void *context);

/* Names the API call in progress for the reports of this thread until it is called again with
 * NULL: the hook of a layer built over the native API (the Win32 layer says "HeapFree" around
 * its call of nth_heap_free). While a name is set, the native calls made under it report with
 * that name; with none set, each native call reports under its own name. For one call, the
 * *_as functions (nth_free_as, nth_heap_realloc_as, nth_heap_usable_size_as) are simpler. */
NTH_API void nth_set_call_name(const char *call);

/* For a layer built over the native API that keeps metadata of its own (the Win32 layer's table
 * of moveable handles): reports damage found there as NTH_ERR_CORRUPT through the same reporter
 * (the call name in progress, the report handler or stderr, and `heap`'s termination on
 * corruption). Sets the last error to NTH_ERR_CORRUPT. */
NTH_API void nth_report_layer_damage(nth_heap *heap, const void *address, const char *expected, const char *found);

/* GENERATE_EXCEPTIONS: Linux has no structured exceptions. A failing allocation or reallocation
 * (as on Windows: free, size and the rest fail with their ordinary value) on a heap or call with
 * NTH_GENERATE_EXCEPTIONS invokes this handler with the Windows status code (0xC0000017
 * STATUS_NO_MEMORY, 0xC0000005 STATUS_ACCESS_VIOLATION, 0xC0000374 STATUS_HEAP_CORRUPTION); the
 * default handler raises SIGSEGV for access violations and SIGABRT otherwise. If the handler
 * returns, the call returns its failure value. */
typedef void (*nth_exception_handler)(uint32_t status, const nth_report *report, void *context);
NTH_API void nth_set_exception_handler(nth_exception_handler handler, void *context);

#define NTH_STATUS_NO_MEMORY        0xC0000017u
#define NTH_STATUS_ACCESS_VIOLATION 0xC0000005u
#define NTH_STATUS_HEAP_CORRUPTION  0xC0000374u

#ifdef __cplusplus
}
#endif

#endif /* NTHEAP_H */
