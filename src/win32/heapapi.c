/*
 * heapapi.c — HeapAlloc, HeapReAlloc, HeapFree, HeapSize, HeapValidate, HeapCompact, HeapLock,
 * HeapUnlock over the native heap.
 *
 * Each function passes through the flags Windows honours for the call, names itself to the native
 * reporter, and on failure turns the native error into the Windows code (last_error.c). A garbage
 * heap handle fails with ERROR_INVALID_HANDLE (the native layer checks every handle against its
 * address map), where Windows would fault. What each one adds to the native call:
 *
 *   HeapAlloc    any failure reads as ERROR_NOT_ENOUGH_MEMORY; a fixed heap refuses blocks of
 *                0xFE00 granules and more (the native heap does, as Windows); with
 *                HEAP_ZERO_MEMORY the bytes past the request up to the block's usable end read
 *                zero too, as Windows' slack does (the native heap zeroes the request only)
 *   HeapReAlloc  lpMem NULL: NULL with NO_ERROR; HEAP_ZERO_MEMORY zeroes past the request as
 *                HeapAlloc does
 *   HeapFree     lpMem NULL: TRUE without looking at the heap handle
 *   HeapSize     failure (SIZE_T)-1 with 87, or 998 for an unmapped address
 *   HeapValidate failure leaves the last error alone (998 for an unmapped address)
 *   HeapCompact  0 with NO_ERROR when the heap has no free block
 *   HeapLock/Unlock on a HEAP_NO_SERIALIZE heap: TRUE, and no exclusion
 */
#include "win32/win32_internal.h"

#include <string.h>

/* Flags each call passes through, tag bits included (HEAP_MAKE_TAG_FLAGS; a heap without tags
 * ignores them); everything else (debug bits, unknown bits) is ignored, as Windows ignores it. */
#define WIN32_ALLOC_FLAGS                                                                     \
    (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS | HEAP_ZERO_MEMORY | HEAP_SETTABLE_USER_VALUE | \
     HEAP_SETTABLE_USER_FLAGS | NTH_TAG_MASK)
#define WIN32_REALLOC_FLAGS                                                                   \
    (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS | HEAP_ZERO_MEMORY | HEAP_REALLOC_IN_PLACE_ONLY | \
     HEAP_SETTABLE_USER_VALUE | HEAP_SETTABLE_USER_FLAGS | NTH_TAG_MASK)
#define WIN32_CALL_FLAGS (HEAP_NO_SERIALIZE)

void win32_zero_past_request(nth_heap *heap, void *block, size_t requested)
{
    /* The native heap zeroed [0, requested); what the block holds beyond is zeroed here once. */
    size_t usable = nth_heap_usable_size(heap, block);
    if (usable != NTH_SIZE_ERROR && usable > requested) memset((char *)block + requested, 0, usable - requested);
}

LPVOID WINAPI HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes)
{
    win32_enter("HeapAlloc");
    void *p = nth_heap_alloc((nth_heap *)hHeap, dwFlags & WIN32_ALLOC_FLAGS, dwBytes);
    if (p && (dwFlags & HEAP_ZERO_MEMORY)) win32_zero_past_request((nth_heap *)hHeap, p, dwBytes);
    win32_leave();
    if (!p) {
        /* Every allocation failure reads as lack of memory on Windows. */
        nth_error error = nth_last_error();
        SetLastError(error == NTH_ERR_INVALID_HANDLE ? ERROR_INVALID_HANDLE : ERROR_NOT_ENOUGH_MEMORY);
    }
    return p;
}

LPVOID WINAPI HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes)
{
    if (lpMem == NULL) {
        SetLastError(NO_ERROR);
        return NULL;
    }
    win32_enter("HeapReAlloc");
    void *p = nth_heap_realloc((nth_heap *)hHeap, dwFlags & WIN32_REALLOC_FLAGS, lpMem, dwBytes);
    if (p && (dwFlags & HEAP_ZERO_MEMORY)) win32_zero_past_request((nth_heap *)hHeap, p, dwBytes);
    win32_leave();
    if (!p) {
        nth_error error = nth_last_error();
        if (error == NTH_ERR_INVALID_PARAMETER) error = NTH_ERR_NO_MEMORY; /* size too large */
        win32_fail_from_native(error, lpMem);
    }
    return p;
}

BOOL WINAPI HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem)
{
    if (lpMem == NULL) return TRUE;
    win32_enter("HeapFree");
    bool ok = nth_heap_free((nth_heap *)hHeap, dwFlags & WIN32_CALL_FLAGS, lpMem);
    win32_leave();
    if (!ok) win32_fail_from_native(nth_last_error(), lpMem);
    return ok ? TRUE : FALSE;
}

SIZE_T WINAPI HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem)
{
    win32_enter("HeapSize");
    size_t size = nth_heap_size((nth_heap *)hHeap, dwFlags & WIN32_CALL_FLAGS, lpMem);
    win32_leave();
    if (size == NTH_SIZE_ERROR) {
        win32_fail_from_native(nth_last_error(), lpMem);
        return (SIZE_T)-1;
    }
    return size;
}

BOOL WINAPI HeapValidate(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem)
{
    if (hHeap == NULL || !nth_heap_is_valid_handle((const nth_heap *)hHeap)) return FALSE;
    win32_enter("HeapValidate");
    bool ok = nth_heap_validate((nth_heap *)hHeap, dwFlags & WIN32_CALL_FLAGS, lpMem);
    win32_leave();
    /* Windows leaves the last error alone, except for an address it cannot read. */
    if (!ok && lpMem != NULL && !win32_address_is_mapped(lpMem)) SetLastError(ERROR_NOACCESS);
    return ok ? TRUE : FALSE;
}

SIZE_T WINAPI HeapCompact(HANDLE hHeap, DWORD dwFlags)
{
    if (!win32_check_heap(hHeap)) return 0;
    nth_set_last_error(NTH_OK);
    win32_enter("HeapCompact");
    size_t largest = nth_heap_compact((nth_heap *)hHeap, dwFlags & WIN32_CALL_FLAGS);
    win32_leave();
    if (largest == 0) {
        nth_error error = nth_last_error();
        if (error == NTH_OK) SetLastError(NO_ERROR);
        else win32_fail_from_native(error, NULL);
    }
    return largest;
}

/* Windows: HeapLock/HeapUnlock on a HEAP_NO_SERIALIZE heap succeed and exclude nothing. */
BOOL WINAPI HeapLock(HANDLE hHeap)
{
    if (!win32_check_heap(hHeap)) return FALSE;
    if (nth_heap_lock((nth_heap *)hHeap)) return TRUE;
    nth_error error = nth_last_error();
    if (error == NTH_ERR_NOT_SUPPORTED) return TRUE;
    win32_fail_from_native(error, NULL);
    return FALSE;
}

BOOL WINAPI HeapUnlock(HANDLE hHeap)
{
    if (!win32_check_heap(hHeap)) return FALSE;
    if (nth_heap_unlock((nth_heap *)hHeap)) return TRUE;
    nth_error error = nth_last_error();
    if (error == NTH_ERR_NOT_SUPPORTED) return TRUE;
    win32_fail_from_native(error, NULL);
    return FALSE;
}
