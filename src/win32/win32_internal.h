/*
 * win32_internal.h — what the files of the Win32 layer share, and nothing else.
 *
 *   last_error.c   Windows' thread-local last error; native error -> Windows code
 *   address.c      "is this address mapped?" (ERROR_NOACCESS versus ERROR_INVALID_PARAMETER),
 *                  and copies to and from a caller's buffer that never fault
 *   heaps.c        HeapCreate/HeapDestroy/GetProcessHeap(s) and the record of each heap's
 *                  creation options (fixed maximum, per-heap flags, LFH request)
 *   heapapi.c      HeapAlloc ... HeapUnlock
 *   walk.c         HeapWalk and HeapSummary (native walk entry <-> PROCESS_HEAP_ENTRY)
 *   information.c  HeapSetInformation / HeapQueryInformation
 *   handles.c      the moveable-handle table shared by Local* and Global*
 *   localglobal.c  Local* and Global*
 *   printf.c       the Microsoft-style printf behind _tprintf
 *
 * Rule for locks: the handle table's mutex is never held while calling into a heap, so the only
 * lock order is "heap lock, then handle table" (HeapWalk of the process heap, under HeapLock,
 * looks handles up).
 */
#ifndef NTH_WIN32_INTERNAL_H
#define NTH_WIN32_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <ntheap.h>
#include <ntheap/win32.h>

/* ------------------------------------------------------------------------- last_error.c */

/* Sets Windows' last error for a failed native call on `address` (NULL if none): bad-pointer
 * errors become ERROR_NOACCESS when the address is not mapped, ERROR_INVALID_PARAMETER
 * otherwise. Returns the code it set. */
DWORD win32_fail_from_native(nth_error error, const void *address);
/* The Windows code for a native error, without setting anything. */
DWORD win32_error_from_native(nth_error error, const void *address);

/* ---------------------------------------------------------------------------- heapapi.c */

/* After a zeroing allocation or reallocation of `requested` bytes (the native heap zeroed them):
 * zeroes the rest of the block's usable bytes, which Windows hands out zeroed as slack. */
void win32_zero_past_request(nth_heap *heap, void *block, size_t requested);

/* Names the Win32 call for the native reporter for the duration of a native call. */
static inline void win32_enter(const char *call) { nth_set_call_name(call); }
static inline void win32_leave(void) { nth_set_call_name(NULL); }

/* ---------------------------------------------------------------------------- address.c */

/* True if the page holding `address` is mapped in this process. Never touches the address. */
bool win32_address_is_mapped(const void *address);
/* Copy `length` bytes from / to a caller's buffer; false, with nothing copied, when the buffer is
 * not readable / writable. */
bool win32_read_caller(void *to, const void *from, size_t length);
bool win32_write_caller(void *to, const void *from, size_t length);

/* ------------------------------------------------------------------------------ heaps.c */

/* What HeapCreate was asked for; heaps created natively have no record and read as growable,
 * serialized, without exceptions. */
typedef struct win32_heap_options {
    uint32_t flags;     /* HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS | ENABLE_EXECUTE kept */
    size_t maximum;     /* 0: growable */
    bool lfh_requested; /* HeapSetInformation(HeapCompatibilityInformation, 2) succeeded */
} win32_heap_options;

/* Copies the record of `heap` to *out; false (and *out = defaults) when there is none. */
bool win32_heap_options_get(HANDLE heap, win32_heap_options *out);
/* Marks the heap's LFH request (creating a record for a natively created heap if needed). */
void win32_heap_options_set_lfh(HANDLE heap);

/* True if `heap` is a live heap handle; sets ERROR_INVALID_HANDLE if not. */
bool win32_check_heap(HANDLE heap);

/* ---------------------------------------------------------------------------- handles.c */

/* One moveable object: see the diagram at the top of handles.c. */
typedef struct win32_handle_entry {
    uintptr_t flags; /* WIN32_HANDLE_* bits, lock count in bits 16..23; free: next-free link */
    void *ptr;       /* the data block, NULL when discarded. The handle is &entry->ptr. */
} win32_handle_entry;

#define WIN32_HANDLE_IN_USE      0x0001u
#define WIN32_HANDLE_MOVEABLE    0x0002u
#define WIN32_HANDLE_DISCARDABLE 0x0004u
#define WIN32_HANDLE_DISCARDED   0x0008u
#define WIN32_HANDLE_DDESHARE    0x8000u
#define WIN32_HANDLE_LOCK_SHIFT  16
#define WIN32_HANDLE_LOCK_MAX    0xFFu
#define WIN32_HANDLE_CAPACITY    0x10000u

/* The user flag that marks a moveable object's data block (the block's user value is its
 * handle), as Windows' kernel32 does. */
#define WIN32_MOVEABLE_USER_FLAG HEAP_SETTABLE_USER_FLAG1

/* A snapshot of one handle's state. */
typedef struct win32_handle_state {
    uintptr_t flags;
    void *ptr;
} win32_handle_state;

/* Takes a free entry, marks it in use with `flags` and ptr NULL; returns its handle, or NULL
 * when the table is full (0x10000 handles) or cannot be allocated. */
HANDLE win32_handle_new(uintptr_t flags);
/* Returns the entry to the free list. The caller has already freed the data block. */
void win32_handle_release(HANDLE handle);
/* Releases a live handle and hands back its data pointer (NULL when discarded) for the caller
 * to free; false if the handle is not live. */
bool win32_handle_take(HANDLE handle, void **ptr);
/* True if `value` has the shape of a handle (pointer-aligned, not 2-pointer-aligned). */
static inline bool win32_is_handle_shaped(const void *value)
{
    return ((uintptr_t)value & (2 * sizeof(void *) - 1)) == sizeof(void *);
}
/* True if `handle` is a live handle of the table; copies its state to *state. */
bool win32_handle_get(HANDLE handle, win32_handle_state *state);
/* Replaces the state of a live handle; false if it is not live any more. */
bool win32_handle_set(HANDLE handle, uintptr_t flags, void *ptr);
/* Lock-count steps, done atomically with respect to the other handle calls.
 * lock: fails (false) if not live; *ptr receives the data pointer (NULL when discarded, in
 * which case the count is not changed). unlock: returns the count before the decrement, or -1
 * when the handle is not live. */
bool win32_handle_lock(HANDLE handle, void **ptr);
int win32_handle_unlock(HANDLE handle);
/* The lock count held in an entry's flags word. */
unsigned win32_handle_lock_count(uintptr_t flags);
/* The live handle whose data block is `ptr` and whose value is `value` (a block's user value),
 * or NULL. Used by HeapWalk to report PROCESS_HEAP_ENTRY_MOVEABLE. */
HANDLE win32_handle_for_block(const void *ptr, uintptr_t value, uintptr_t *flags);

#endif /* NTH_WIN32_INTERNAL_H */
