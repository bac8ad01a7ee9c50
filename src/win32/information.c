/*
 * information.c — HeapSetInformation and HeapQueryInformation.
 *
 *   class                               set                               query
 *   HeapCompatibilityInformation (0)    ULONG 2: LFH on (native option    ULONG: 2 once the LFH is
 *                                       NTH_OPTION_LFH); refused on a     requested or has engaged by
 *                                       NO_SERIALIZE or fixed heap (87);  itself, else 0
 *                                       0/1 refused once 2 (31)
 *   HeapEnableTerminationOnCorruption   process-wide and irreversible     not queryable (87)
 *   (1)                                 (NTH_OPTION_TERMINATE_ON_CORRUPTION
 *                                       on heap NULL); buffer ignored
 *   HeapOptimizeResources (3)           HEAP_OPTIMIZE_RESOURCES_INFORMATION not queryable (87)
 *                                       version 1: compacts the heap, or
 *                                       every heap for NULL
 *   anything else                       87                                87
 *
 * Argument errors for class 0, as Windows: heap NULL -> ERROR_NOACCESS; buffer shorter than a
 * ULONG -> ERROR_INSUFFICIENT_BUFFER (query: *ReturnLength = 4 when given); a buffer or return
 * length that cannot be read or written (NULL, unmapped, read-only) -> ERROR_NOACCESS, never a
 * fault (address.c).
 */
#include "win32/win32_internal.h"

#include <stdlib.h>
#include <string.h>

#define WIN32_LFH_VALUE 2u

/* What HeapQueryInformation(HeapCompatibilityInformation) reads: 2 as soon as the caller asked
 * for the LFH or the heap started it on its own, 0 before. */
static ULONG compatibility_value(HANDLE heap)
{
    win32_heap_options options;
    (void)win32_heap_options_get(heap, &options);
    if (options.lfh_requested) return WIN32_LFH_VALUE;
    nth_heap_stats stats;
    if (nth_heap_query_stats((nth_heap *)heap, &stats) && (stats.lfh_subsegments > 0 || stats.lfh_blocks > 0))
        return WIN32_LFH_VALUE;
    return 0;
}

static BOOL set_compatibility(HANDLE heap, PVOID info, SIZE_T length)
{
    if (heap == NULL) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    if (!win32_check_heap(heap)) return FALSE;
    if (info == NULL) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    if (length < sizeof(ULONG)) {
        SetLastError(ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    ULONG value;
    if (!win32_read_caller(&value, info, sizeof value)) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    ULONG current = compatibility_value(heap);
    if (value == 0 || value == 1) {
        /* Look-aside lists are gone since Vista: 0 and 1 both mean "standard heap", which a heap
         * can no longer return to once it has the LFH. */
        if (current == WIN32_LFH_VALUE) {
            SetLastError(ERROR_GEN_FAILURE);
            return FALSE;
        }
        return TRUE;
    }
    if (value != WIN32_LFH_VALUE) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (current == WIN32_LFH_VALUE) return TRUE;
    win32_heap_options options;
    (void)win32_heap_options_get(heap, &options);
    if ((options.flags & HEAP_NO_SERIALIZE) || options.maximum != 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (!nth_heap_set_option((nth_heap *)heap, NTH_OPTION_LFH, 1)) {
        win32_fail_from_native(nth_last_error(), NULL);
        return FALSE;
    }
    win32_heap_options_set_lfh(heap);
    return TRUE;
}

static BOOL optimize_resources(HANDLE heap, PVOID info, SIZE_T length)
{
    if (info == NULL || length < sizeof(HEAP_OPTIMIZE_RESOURCES_INFORMATION)) {
        SetLastError(info == NULL ? ERROR_NOACCESS : ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    HEAP_OPTIMIZE_RESOURCES_INFORMATION request;
    if (!win32_read_caller(&request, info, sizeof request)) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    if (request.Version != HEAP_OPTIMIZE_RESOURCES_CURRENT_VERSION) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (heap != NULL) {
        if (!win32_check_heap(heap)) return FALSE;
        (void)nth_heap_compact((nth_heap *)heap, 0);
        return TRUE;
    }
    /* Every heap of the process: the list is read in slices, as heaps may come and go. */
    nth_heap *heaps[64];
    size_t capacity = sizeof heaps / sizeof heaps[0];
    size_t total = nth_heap_list(heaps, capacity);
    for (size_t i = 0; i < total && i < capacity; i++) (void)nth_heap_compact(heaps[i], 0);
    if (total > capacity) {
        nth_heap **all = malloc(total * sizeof *all);
        if (all) {
            size_t again = nth_heap_list(all, total);
            for (size_t i = capacity; i < again && i < total; i++) (void)nth_heap_compact(all[i], 0);
            free(all);
        }
    }
    return TRUE;
}

BOOL WINAPI HeapSetInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                               PVOID HeapInformation, SIZE_T HeapInformationLength)
{
    switch (HeapInformationClass) {
    case HeapCompatibilityInformation:
        return set_compatibility(HeapHandle, HeapInformation, HeapInformationLength);
    case HeapEnableTerminationOnCorruption:
        if (!nth_heap_set_option(NULL, NTH_OPTION_TERMINATE_ON_CORRUPTION, 1)) {
            win32_fail_from_native(nth_last_error(), NULL);
            return FALSE;
        }
        return TRUE;
    case HeapOptimizeResources:
        return optimize_resources(HeapHandle, HeapInformation, HeapInformationLength);
    }
    SetLastError(ERROR_INVALID_PARAMETER);
    return FALSE;
}

BOOL WINAPI HeapQueryInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                 PVOID HeapInformation, SIZE_T HeapInformationLength,
                                 PSIZE_T ReturnLength)
{
    if (HeapInformationClass != HeapCompatibilityInformation) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (HeapHandle == NULL) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    if (!win32_check_heap(HeapHandle)) return FALSE;
    SIZE_T needed = sizeof(ULONG);
    if (ReturnLength && !win32_write_caller(ReturnLength, &needed, sizeof needed)) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    if (HeapInformationLength < sizeof(ULONG)) {
        SetLastError(ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    ULONG value = compatibility_value(HeapHandle);
    if (HeapInformation == NULL || !win32_write_caller(HeapInformation, &value, sizeof value)) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    return TRUE;
}
