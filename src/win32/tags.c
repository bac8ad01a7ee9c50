/*
 * tags.c — HeapCreateTagsW and HeapQueryTagW over the native tags (nth_heap_create_tag).
 *
 *   HeapCreateTagsW(heap, 0, L"MYDLL!", L"TEMP\0CACHE\0")   names are separated by L'\0' and the
 *     -> base = HEAP_MAKE_TAG_FLAGS(0, first index)         list ends with an empty name; each tag
 *   HeapAlloc(heap, HEAP_MAKE_TAG_FLAGS(base, 1), n)        is called prefix + name ("MYDLL!CACHE")
 *     -> counted under "MYDLL!CACHE"                        and the offsets count from the base
 *   HeapQueryTagW(heap, 0, index, reset, &info) -> the tag's name, and its counters in info
 *
 * Names reach the native layer as bytes: characters outside ASCII become '?'. The name
 * HeapQueryTagW returns lives in a per-thread buffer, valid until the thread's next call.
 * Failures: a bad heap -> ERROR_INVALID_HANDLE; no names, or an index the heap does not have ->
 * ERROR_INVALID_PARAMETER; no memory for the table -> ERROR_NOT_ENOUGH_MEMORY.
 */
#include "win32/win32_internal.h"

#include <string.h>
#include <wchar.h>

/* Appends `text` to `out` (NTH_TAG_NAME_MAX bytes, `*len` used) as ASCII; true if it fitted. */
static bool append_narrow(char *out, size_t *len, LPCWSTR text)
{
    for (; *text; text++) {
        if (*len + 1 >= NTH_TAG_NAME_MAX) return false;
        out[(*len)++] = *text > 0 && *text < 0x80 ? (char)*text : '?';
    }
    out[*len] = '\0';
    return true;
}

DWORD WINAPI HeapCreateTagsW(HANDLE hHeap, DWORD dwFlags, LPCWSTR lpTagPrefix, LPCWSTR lpTagNames)
{
    (void)dwFlags;
    if (!win32_check_heap(hHeap)) return 0;
    if (lpTagNames == NULL || *lpTagNames == 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return 0;
    }
    uint32_t first = 0;
    for (LPCWSTR name = lpTagNames; *name; name += wcslen(name) + 1) {
        char full[NTH_TAG_NAME_MAX];
        size_t len = 0;
        full[0] = '\0';
        if (lpTagPrefix) (void)append_narrow(full, &len, lpTagPrefix);
        (void)append_narrow(full, &len, name); /* a long name is cut, as the native table keeps it */
        uint32_t index = nth_heap_create_tag((nth_heap *)hHeap, full);
        if (index == 0) {
            win32_fail_from_native(nth_last_error(), NULL);
            return 0;
        }
        if (first == 0) first = index;
    }
    return HEAP_MAKE_TAG_FLAGS(0, first);
}

LPCWSTR WINAPI HeapQueryTagW(HANDLE hHeap, DWORD dwFlags, WORD wTagIndex, BOOL bResetCounters,
                             LPHEAP_TAG_INFO TagInfo)
{
    static _Thread_local WCHAR name[NTH_TAG_NAME_MAX];
    (void)dwFlags;
    if (!win32_check_heap(hHeap)) return NULL;
    nth_tag_stats stats;
    if (!nth_heap_query_tag((nth_heap *)hHeap, wTagIndex, bResetCounters != FALSE, &stats)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    if (TagInfo) {
        TagInfo->dwNumberOfAllocations = (DWORD)stats.allocs;
        TagInfo->dwNumberOfFrees = (DWORD)stats.frees;
        TagInfo->dwBytesAllocated = stats.bytes;
    }
    size_t i = 0;
    for (; stats.name[i] && i + 1 < NTH_TAG_NAME_MAX; i++) name[i] = (unsigned char)stats.name[i];
    name[i] = 0;
    return name;
}
