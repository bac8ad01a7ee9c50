/*
 * heaps.c — HeapCreate, HeapDestroy, GetProcessHeap, GetProcessHeaps, and the record of what
 * each HeapCreate asked for.
 *
 * The native heap knows its own options, but the native API does not hand all of them back, and
 * the Win32 contracts need three: whether the heap is fixed (Windows refuses the LFH there),
 * whether it was created HEAP_NO_SERIALIZE (refused there too) and whether HeapSetInformation
 * switched the LFH on (HeapQueryInformation then reads 2 at once, before the heap engages it).
 * One record per heap created here, in a list under a mutex; records are looked up only by
 * Set/QueryInformation, never on an allocation path. A heap created with the native API has no
 * record and reads as growable and serialized.
 *
 * Invariant: a record exists for a live heap handle only; HeapDestroy drops it, and HeapCreate
 * replaces a stale record left at the same address by a heap destroyed natively.
 */
#include "win32/win32_internal.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct win32_heap_record {
    struct win32_heap_record *next;
    HANDLE heap;
    win32_heap_options options;
} win32_heap_record;

static pthread_mutex_t records_mutex = PTHREAD_MUTEX_INITIALIZER;
static win32_heap_record *records;

static win32_heap_record *record_find_locked(HANDLE heap)
{
    for (win32_heap_record *r = records; r; r = r->next)
        if (r->heap == heap) return r;
    return NULL;
}

static void record_remove(HANDLE heap)
{
    pthread_mutex_lock(&records_mutex);
    for (win32_heap_record **link = &records; *link; link = &(*link)->next) {
        if ((*link)->heap == heap) {
            win32_heap_record *dead = *link;
            *link = dead->next;
            free(dead);
            break;
        }
    }
    pthread_mutex_unlock(&records_mutex);
}

static bool record_add(HANDLE heap, const win32_heap_options *options)
{
    win32_heap_record *record = malloc(sizeof *record);
    if (!record) return false;
    record->heap = heap;
    record->options = *options;
    pthread_mutex_lock(&records_mutex);
    win32_heap_record *stale = record_find_locked(heap);
    if (stale) {
        stale->options = *options;
        free(record);
    } else {
        record->next = records;
        records = record;
    }
    pthread_mutex_unlock(&records_mutex);
    return true;
}

bool win32_heap_options_get(HANDLE heap, win32_heap_options *out)
{
    pthread_mutex_lock(&records_mutex);
    win32_heap_record *r = record_find_locked(heap);
    if (r) *out = r->options;
    pthread_mutex_unlock(&records_mutex);
    if (!r) *out = (win32_heap_options){ 0, 0, false };
    return r != NULL;
}

void win32_heap_options_set_lfh(HANDLE heap)
{
    pthread_mutex_lock(&records_mutex);
    win32_heap_record *r = record_find_locked(heap);
    if (r) r->options.lfh_requested = true;
    pthread_mutex_unlock(&records_mutex);
    if (!r) {
        win32_heap_options options = { 0, 0, true };
        (void)record_add(heap, &options);
    }
}

bool win32_check_heap(HANDLE heap)
{
    if (heap && nth_heap_is_valid_handle((const nth_heap *)heap)) return true;
    SetLastError(ERROR_INVALID_HANDLE);
    return false;
}

/* HeapCreate keeps only the options Windows documents for it; the debug-heap bits
 * (TAIL/FREE_CHECKING, DISABLE_COALESCE) come from the debug options, never from the caller,
 * and unknown bits are ignored, as Windows 10/11 do. */
#define WIN32_CREATE_FLAGS (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS | HEAP_CREATE_ENABLE_EXECUTE)

HANDLE WINAPI HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize)
{
    uint32_t flags = flOptions & WIN32_CREATE_FLAGS;
    /* An initial size above the maximum makes a fixed heap of the initial size. */
    if (dwMaximumSize != 0 && dwInitialSize > dwMaximumSize) dwMaximumSize = dwInitialSize;

    win32_enter("HeapCreate");
    nth_heap *heap = nth_heap_create(flags, dwInitialSize, dwMaximumSize);
    win32_leave();
    if (!heap) {
        win32_fail_from_native(nth_last_error(), NULL);
        return NULL;
    }
    win32_heap_options options = { flags, dwMaximumSize, false };
    if (!record_add(heap, &options)) {
        (void)nth_heap_destroy(heap);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    return heap;
}

BOOL WINAPI HeapDestroy(HANDLE hHeap)
{
    if (hHeap == NULL) return TRUE; /* as RtlDestroyHeap(NULL): nothing to destroy */
    if (!win32_check_heap(hHeap)) return FALSE;
    win32_enter("HeapDestroy");
    bool ok = nth_heap_destroy((nth_heap *)hHeap);
    win32_leave();
    if (!ok) {
        win32_fail_from_native(nth_last_error(), NULL);
        return FALSE;
    }
    record_remove(hHeap);
    return TRUE;
}

HANDLE WINAPI GetProcessHeap(void)
{
    return nth_process_heap();
}

DWORD WINAPI GetProcessHeaps(DWORD NumberOfHeaps, PHANDLE ProcessHeaps)
{
    if (ProcessHeaps == NULL) NumberOfHeaps = 0;
    if (!nth_process_heap()) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return 0;
    }
    /* The native list is written to a buffer of its own type, then copied out as HANDLEs. */
    nth_heap *small[32];
    nth_heap **list = small;
    if (NumberOfHeaps > sizeof small / sizeof small[0]) {
        list = malloc(NumberOfHeaps * sizeof *list);
        if (!list) {
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return 0;
        }
    }
    size_t total = nth_heap_list(list, NumberOfHeaps);
    size_t stored = total < NumberOfHeaps ? total : NumberOfHeaps;
    /* A HANDLE and a heap pointer are the same bytes; copied through the kernel, so a wild or
     * read-only array is refused, not faulted on. */
    _Static_assert(sizeof(HANDLE) == sizeof(nth_heap *), "a heap handle is the heap's address");
    bool written = stored == 0 || win32_write_caller(ProcessHeaps, list, stored * sizeof(HANDLE));
    if (list != small) free(list);
    if (!written) {
        SetLastError(ERROR_NOACCESS);
        return 0;
    }
    if (total == 0) SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return (DWORD)total;
}
