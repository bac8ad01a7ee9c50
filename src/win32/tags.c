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
 * ERROR_INVALID_PARAMETER; no memory for the table -> ERROR_NOT_ENOUGH_MEMORY; a string or
 * HEAP_TAG_INFO that is not readable / writable memory -> ERROR_NOACCESS (both are copied through
 * the kernel, a character at a time for the strings: tags are made once, at start-up).
 */
#include "win32/win32_internal.h"

#include <string.h>

/* Reads the caller's character at `at` through the kernel (win32_read_caller): false, with
 * nothing read, where the caller's string is not readable memory. */
static bool read_wide(LPCWSTR at, WCHAR *c)
{
    return win32_read_caller(c, at, sizeof *c);
}

/* Appends the caller's string `text` to `out` (NTH_TAG_NAME_MAX bytes, `*len` used) as ASCII,
 * cut where it would not fit; sets *next past its terminator. False when it is not readable. */
static bool append_narrow(char *out, size_t *len, LPCWSTR text, LPCWSTR *next)
{
    WCHAR c;
    for (; read_wide(text, &c) && c; text++)
        if (*len + 1 < NTH_TAG_NAME_MAX) out[(*len)++] = c > 0 && c < 0x80 ? (char)c : '?';
    out[*len] = '\0';
    if (next) *next = text + 1;
    return read_wide(text, &c);
}

DWORD WINAPI HeapCreateTagsW(HANDLE hHeap, DWORD dwFlags, LPCWSTR lpTagPrefix, LPCWSTR lpTagNames)
{
    (void)dwFlags;
    if (!win32_check_heap(hHeap)) return 0;
    WCHAR c;
    if (lpTagNames == NULL || !read_wide(lpTagNames, &c) || c == 0) {
        SetLastError(lpTagNames && !read_wide(lpTagNames, &c) ? ERROR_NOACCESS : ERROR_INVALID_PARAMETER);
        return 0;
    }
    uint32_t first = 0;
    for (LPCWSTR name = lpTagNames, next; read_wide(name, &c) && c; name = next) {
        char full[NTH_TAG_NAME_MAX];
        size_t len = 0;
        full[0] = '\0';
        /* A long name is cut, as the native table keeps it; an unreadable string fails the call. */
        if ((lpTagPrefix && !append_narrow(full, &len, lpTagPrefix, NULL)) || !append_narrow(full, &len, name, &next)) {
            SetLastError(ERROR_NOACCESS);
            return 0;
        }
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
    if (TagInfo) { /* written through the kernel: a wild one is refused, not faulted on */
        HEAP_TAG_INFO info = {.dwNumberOfAllocations = (DWORD)stats.allocs,
                              .dwNumberOfFrees = (DWORD)stats.frees,
                              .dwBytesAllocated = stats.bytes};
        if (!win32_write_caller(TagInfo, &info, sizeof info)) {
            SetLastError(ERROR_NOACCESS);
            return NULL;
        }
    }
    size_t i = 0;
    for (; stats.name[i] && i + 1 < NTH_TAG_NAME_MAX; i++) name[i] = (unsigned char)stats.name[i];
    name[i] = 0;
    return name;
}
