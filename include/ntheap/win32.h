/*
 * ntheap/win32.h — the Win32 heap API over ntheap, with Windows' contracts.
 *
 * A program written for Windows includes this header (directly, or through the <windows.h> and
 * <tchar.h> shims in include/ntheap/compat) and sees the return values, last-error codes and
 * HeapWalk entries Windows gives it:
 *
 *   Heap*      HeapCreate HeapDestroy HeapAlloc HeapReAlloc HeapFree HeapSize HeapValidate
 *              HeapCompact HeapLock HeapUnlock HeapWalk HeapSummary HeapSetInformation
 *              HeapQueryInformation GetProcessHeap GetProcessHeaps HeapCreateTagsW HeapQueryTagW
 *   errors     GetLastError SetLastError (a thread-local DWORD of its own, distinct from
 *              nth_last_error())
 *   Local*     LocalAlloc LocalReAlloc LocalFree LocalLock LocalUnlock LocalHandle LocalFlags
 *   Global*    LocalSize and the Global* twins: fixed and moveable memory on the process heap,
 *              one shared table of moveable handles
 *
 * Types follow Windows' sizes on an LP64 system: DWORD and ULONG are 32 bits (so print them with
 * %u, not %lu), SIZE_T and the *_PTR types are pointer-sized, HANDLE is a pointer.
 *
 * HEAP_GENERATE_EXCEPTIONS: Linux has no structured exceptions. A failing call with the flag (on
 * the call or on the heap) calls the handler registered with nth_set_exception_handler() with the
 * Windows status code (STATUS_NO_MEMORY, STATUS_ACCESS_VIOLATION, STATUS_HEAP_CORRUPTION); the
 * default handler raises SIGSEGV for access violations and SIGABRT otherwise. If the handler
 * returns, the call returns its ordinary failure value.
 *
 * docs/win32.md lists every place where this layer deliberately differs from Windows.
 */
#ifndef NTHEAP_WIN32_H
#define NTHEAP_WIN32_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ntheap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ types */

#ifndef NTH_WIN32_NO_BASIC_TYPES
typedef int BOOL;
typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef unsigned int UINT;
typedef char CHAR;
typedef size_t SIZE_T;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef intptr_t INT_PTR;
typedef uintptr_t UINT_PTR;
typedef uintptr_t DWORD_PTR;
typedef void *PVOID;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef void *HANDLE;
typedef HANDLE *PHANDLE;
typedef HANDLE HGLOBAL;
typedef HANDLE HLOCAL;
typedef SIZE_T *PSIZE_T;
typedef DWORD *PDWORD;
typedef DWORD *LPDWORD;
typedef BOOL *PBOOL;
typedef ULONG *PULONG;
typedef CHAR *LPSTR;
typedef const CHAR *LPCSTR;
typedef wchar_t WCHAR; /* ported code's L"" literals are wchar_t on Linux */
typedef WCHAR *LPWSTR;
typedef const WCHAR *LPCWSTR;
#endif

#ifndef WINAPI
#define WINAPI
#endif
#ifndef FALSE
#define FALSE 0
#endif
#ifndef TRUE
#define TRUE 1
#endif

/* ------------------------------------------------------------------- heap flags (winnt.h) */

#define HEAP_NO_SERIALIZE               0x00000001
#define HEAP_GROWABLE                   0x00000002
#define HEAP_GENERATE_EXCEPTIONS        0x00000004
#define HEAP_ZERO_MEMORY                0x00000008
#define HEAP_REALLOC_IN_PLACE_ONLY      0x00000010
#define HEAP_TAIL_CHECKING_ENABLED      0x00000020
#define HEAP_FREE_CHECKING_ENABLED      0x00000040
#define HEAP_DISABLE_COALESCE_ON_FREE   0x00000080
#define HEAP_CREATE_SEGMENT_HEAP        0x00000100
#define HEAP_CREATE_HARDENED            0x00000200
#define HEAP_CREATE_ALIGN_16            0x00010000
#define HEAP_CREATE_ENABLE_TRACING      0x00020000
#define HEAP_CREATE_ENABLE_EXECUTE      0x00040000
#define HEAP_MAXIMUM_TAG                0x0FFF
#define HEAP_PSEUDO_TAG_FLAG            0x8000
#define HEAP_TAG_SHIFT                  18
#define HEAP_MAKE_TAG_FLAGS(TagBase, Tag) ((DWORD)((TagBase) + ((Tag) << HEAP_TAG_SHIFT)))
/* ntdll-level user information (accepted by HeapAlloc, as Windows passes flags through) */
#define HEAP_SETTABLE_USER_VALUE        0x00000100
#define HEAP_SETTABLE_USER_FLAG1        0x00000200
#define HEAP_SETTABLE_USER_FLAG2        0x00000400
#define HEAP_SETTABLE_USER_FLAG3        0x00000800
#define HEAP_SETTABLE_USER_FLAGS        0x00000E00

/* --------------------------------------------------------- HeapWalk entries (minwinbase.h) */

#define PROCESS_HEAP_REGION             0x0001
#define PROCESS_HEAP_UNCOMMITTED_RANGE  0x0002
#define PROCESS_HEAP_ENTRY_BUSY         0x0004
#define PROCESS_HEAP_SEG_ALLOC          0x0008
#define PROCESS_HEAP_ENTRY_MOVEABLE     0x0010
#define PROCESS_HEAP_ENTRY_DDESHARE     0x0020

/* Windows' layout: 28 bytes on 32-bit, 40 on 64-bit; the union starts at offset 16 (64-bit). */
typedef struct _PROCESS_HEAP_ENTRY {
    PVOID lpData;
    DWORD cbData;
    BYTE cbOverhead;
    BYTE iRegionIndex;
    WORD wFlags;
    union {
        struct {
            HANDLE hMem;
            DWORD dwReserved[3];
        } Block;
        struct {
            DWORD dwCommittedSize;
            DWORD dwUnCommittedSize;
            LPVOID lpFirstBlock;
            LPVOID lpLastBlock;
        } Region;
    };
} PROCESS_HEAP_ENTRY, *LPPROCESS_HEAP_ENTRY, *PPROCESS_HEAP_ENTRY;

/* HeapWalk reports big blocks (mapped on their own, outside any segment) with this region index,
 * as Windows does for its VirtualAlloc'd blocks. */
#define NTH_WIN32_BIG_BLOCK_REGION_INDEX 64

typedef struct _HEAP_SUMMARY {
    DWORD cb; /* must be sizeof(HEAP_SUMMARY) */
    SIZE_T cbAllocated;
    SIZE_T cbCommitted;
    SIZE_T cbReserved;
    SIZE_T cbMaxReserve;
} HEAP_SUMMARY, *PHEAP_SUMMARY, *LPHEAP_SUMMARY;

/* ------------------------------------------------------------------------------- heap tags */

/* What HeapQueryTagW reports for one tag (the old winbase.h shape). */
typedef struct _HEAP_TAG_INFO {
    DWORD dwNumberOfAllocations;
    DWORD dwNumberOfFrees;
    SIZE_T dwBytesAllocated;
} HEAP_TAG_INFO, *PHEAP_TAG_INFO, *LPHEAP_TAG_INFO;

/* ---------------------------------------------------------------- HeapSet/QueryInformation */

typedef enum _HEAP_INFORMATION_CLASS {
    HeapCompatibilityInformation = 0,
    HeapEnableTerminationOnCorruption = 1,
    HeapOptimizeResources = 3,
} HEAP_INFORMATION_CLASS;

#define HEAP_OPTIMIZE_RESOURCES_CURRENT_VERSION 1
typedef struct _HEAP_OPTIMIZE_RESOURCES_INFORMATION {
    DWORD Version;
    DWORD Flags;
} HEAP_OPTIMIZE_RESOURCES_INFORMATION, *PHEAP_OPTIMIZE_RESOURCES_INFORMATION;

/* ------------------------------------------------------------------------- LMEM_* / GMEM_* */

#define LMEM_FIXED          0x0000
#define LMEM_MOVEABLE       0x0002
#define LMEM_NOCOMPACT      0x0010
#define LMEM_NODISCARD      0x0020
#define LMEM_ZEROINIT       0x0040
#define LMEM_MODIFY         0x0080
#define LMEM_DISCARDABLE    0x0F00
#define LMEM_VALID_FLAGS    0x0F72
#define LMEM_INVALID_HANDLE 0x8000
#define LMEM_DISCARDED      0x4000
#define LMEM_LOCKCOUNT      0x00FF
#define LHND                (LMEM_MOVEABLE | LMEM_ZEROINIT)
#define LPTR                (LMEM_FIXED | LMEM_ZEROINIT)
#define NONZEROLHND         (LMEM_MOVEABLE)
#define NONZEROLPTR         (LMEM_FIXED)

#define GMEM_FIXED          0x0000
#define GMEM_MOVEABLE       0x0002
#define GMEM_NOCOMPACT      0x0010
#define GMEM_NODISCARD      0x0020
#define GMEM_ZEROINIT       0x0040
#define GMEM_MODIFY         0x0080
#define GMEM_DISCARDABLE    0x0100
#define GMEM_NOT_BANKED     0x1000
#define GMEM_LOWER          GMEM_NOT_BANKED
#define GMEM_SHARE          0x2000
#define GMEM_DDESHARE       0x2000
#define GMEM_NOTIFY         0x4000
#define GMEM_VALID_FLAGS    0x7F72
#define GMEM_INVALID_HANDLE 0x8000
#define GMEM_DISCARDED      0x4000
#define GMEM_LOCKCOUNT      0x00FF
#define GHND                (GMEM_MOVEABLE | GMEM_ZEROINIT)
#define GPTR                (GMEM_FIXED | GMEM_ZEROINIT)

#define LocalDiscard(h)  LocalReAlloc((h), 0, LMEM_MOVEABLE)
#define GlobalDiscard(h) GlobalReAlloc((h), 0, GMEM_MOVEABLE)

/* ------------------------------------------------------------- last-error and status codes */

#define ERROR_SUCCESS             0
#define NO_ERROR                  0
#define ERROR_INVALID_HANDLE      6
#define ERROR_NOT_ENOUGH_MEMORY   8
#define ERROR_OUTOFMEMORY         14
#define ERROR_GEN_FAILURE         31
#define ERROR_INVALID_PARAMETER   87
#define ERROR_INSUFFICIENT_BUFFER 122
#define ERROR_DISCARDED           157
#define ERROR_NOT_LOCKED          158
#define ERROR_NO_MORE_ITEMS       259
#define ERROR_NOACCESS            998

#define STATUS_SUCCESS           ((DWORD)0x00000000)
#define STATUS_NO_MORE_ENTRIES   ((DWORD)0x8000001A)
#define STATUS_UNSUCCESSFUL      ((DWORD)0xC0000001)
#define STATUS_ACCESS_VIOLATION  ((DWORD)0xC0000005)
#define STATUS_INVALID_HANDLE    ((DWORD)0xC0000008)
#define STATUS_INVALID_PARAMETER ((DWORD)0xC000000D)
#define STATUS_NO_MEMORY         ((DWORD)0xC0000017)
#define STATUS_BUFFER_TOO_SMALL  ((DWORD)0xC0000023)
#define STATUS_HEAP_CORRUPTION   ((DWORD)0xC0000374)

/* ---------------------------------------------------------------------------- last error */

NTH_API DWORD WINAPI GetLastError(void);
NTH_API void WINAPI SetLastError(DWORD dwErrCode);

/* ------------------------------------------------------------------------------ heap API */

NTH_API HANDLE WINAPI HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize);
NTH_API BOOL WINAPI HeapDestroy(HANDLE hHeap);
NTH_API HANDLE WINAPI GetProcessHeap(void);
NTH_API DWORD WINAPI GetProcessHeaps(DWORD NumberOfHeaps, PHANDLE ProcessHeaps);
NTH_API LPVOID WINAPI HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes);
NTH_API LPVOID WINAPI HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes);
NTH_API BOOL WINAPI HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem);
NTH_API SIZE_T WINAPI HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
NTH_API BOOL WINAPI HeapValidate(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
NTH_API SIZE_T WINAPI HeapCompact(HANDLE hHeap, DWORD dwFlags);
NTH_API BOOL WINAPI HeapLock(HANDLE hHeap);
NTH_API BOOL WINAPI HeapUnlock(HANDLE hHeap);
NTH_API BOOL WINAPI HeapWalk(HANDLE hHeap, LPPROCESS_HEAP_ENTRY lpEntry);
NTH_API BOOL WINAPI HeapSummary(HANDLE hHeap, DWORD dwFlags, LPHEAP_SUMMARY lpSummary);
NTH_API DWORD WINAPI HeapCreateTagsW(HANDLE hHeap, DWORD dwFlags, LPCWSTR lpTagPrefix, LPCWSTR lpTagNames);
NTH_API LPCWSTR WINAPI HeapQueryTagW(HANDLE hHeap, DWORD dwFlags, WORD wTagIndex, BOOL bResetCounters,
                                     LPHEAP_TAG_INFO TagInfo);
NTH_API BOOL WINAPI HeapSetInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                       PVOID HeapInformation, SIZE_T HeapInformationLength);
NTH_API BOOL WINAPI HeapQueryInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                         PVOID HeapInformation, SIZE_T HeapInformationLength,
                                         PSIZE_T ReturnLength);

/* ----------------------------------------------------------------------- Local / Global */

NTH_API HLOCAL WINAPI LocalAlloc(UINT uFlags, SIZE_T uBytes);
NTH_API HLOCAL WINAPI LocalReAlloc(HLOCAL hMem, SIZE_T uBytes, UINT uFlags);
NTH_API HLOCAL WINAPI LocalFree(HLOCAL hMem);
NTH_API LPVOID WINAPI LocalLock(HLOCAL hMem);
NTH_API BOOL WINAPI LocalUnlock(HLOCAL hMem);
NTH_API HLOCAL WINAPI LocalHandle(LPCVOID pMem);
NTH_API UINT WINAPI LocalFlags(HLOCAL hMem);
NTH_API SIZE_T WINAPI LocalSize(HLOCAL hMem);

NTH_API HGLOBAL WINAPI GlobalAlloc(UINT uFlags, SIZE_T dwBytes);
NTH_API HGLOBAL WINAPI GlobalReAlloc(HGLOBAL hMem, SIZE_T dwBytes, UINT uFlags);
NTH_API HGLOBAL WINAPI GlobalFree(HGLOBAL hMem);
NTH_API LPVOID WINAPI GlobalLock(HGLOBAL hMem);
NTH_API BOOL WINAPI GlobalUnlock(HGLOBAL hMem);
NTH_API HGLOBAL WINAPI GlobalHandle(LPCVOID pMem);
NTH_API UINT WINAPI GlobalFlags(HGLOBAL hMem);
NTH_API SIZE_T WINAPI GlobalSize(HGLOBAL hMem);

/* ------------------------------------------------------------------ console output helper */

/* printf as the Microsoft C runtime formats it, for ported code (the <tchar.h> shim maps
 * _tprintf here): "%p" prints the pointer as zero-padded upper-case hex (2 * sizeof(void *)
 * digits) and "%#p" adds a "0X" prefix; "%I64d"/"%Iu"-style size prefixes are understood;
 * everything else is the C library's printf. */
NTH_API int nth_win32_printf(const char *format, ...);
NTH_API int nth_win32_fprintf(FILE *stream, const char *format, ...);
NTH_API int nth_win32_vfprintf(FILE *stream, const char *format, va_list args);

#ifdef __cplusplus
}
#endif

#endif /* NTHEAP_WIN32_H */
