/*
 * last_error.c — Windows' last error and the translation of native errors into it.
 *
 * GetLastError/SetLastError keep a thread-local DWORD of their own: the native layer's
 * nth_last_error() is a different variable, and the two never alias. A Win32 call sets the last
 * error only when it fails (or where Windows sets it on success, e.g. GlobalUnlock reaching a
 * lock count of 0 sets NO_ERROR); it reads nth_last_error() only right after a native call
 * failed.
 *
 *   native error                 Windows last error
 *   NTH_ERR_NO_MEMORY            ERROR_NOT_ENOUGH_MEMORY   (8)
 *   NTH_ERR_CANNOT_MOVE          ERROR_NOT_ENOUGH_MEMORY   (8)   in-place realloc impossible
 *   NTH_ERR_INVALID_HANDLE       ERROR_INVALID_HANDLE      (6)
 *   NTH_ERR_INVALID_PARAMETER    ERROR_INVALID_PARAMETER   (87)
 *   NTH_ERR_NOT_SUPPORTED        ERROR_INVALID_PARAMETER   (87)
 *   NTH_ERR_INVALID_POINTER,     ERROR_NOACCESS (998) if the address is not mapped,
 *   _DOUBLE_FREE, _WRONG_HEAP,   else ERROR_INVALID_PARAMETER (87)
 *   _CORRUPT
 *   NTH_ERR_NO_MORE_ITEMS        ERROR_NO_MORE_ITEMS       (259)
 *   NTH_ERR_NOT_LOCKED           ERROR_NOT_LOCKED          (158)
 *   NTH_OK (should not happen)   ERROR_GEN_FAILURE         (31)
 */
#include "win32/win32_internal.h"

static _Thread_local DWORD win32_last_error;

DWORD WINAPI GetLastError(void)
{
    return win32_last_error;
}

void WINAPI SetLastError(DWORD dwErrCode)
{
    win32_last_error = dwErrCode;
}

DWORD win32_error_from_native(nth_error error, const void *address)
{
    switch (error) {
    case NTH_ERR_NO_MEMORY:
    case NTH_ERR_CANNOT_MOVE:
        return ERROR_NOT_ENOUGH_MEMORY;
    case NTH_ERR_INVALID_HANDLE:
        return ERROR_INVALID_HANDLE;
    case NTH_ERR_INVALID_PARAMETER:
    case NTH_ERR_NOT_SUPPORTED:
        return ERROR_INVALID_PARAMETER;
    case NTH_ERR_INVALID_POINTER:
    case NTH_ERR_DOUBLE_FREE:
    case NTH_ERR_WRONG_HEAP:
    case NTH_ERR_CORRUPT:
        return win32_address_is_mapped(address) ? ERROR_INVALID_PARAMETER : ERROR_NOACCESS;
    case NTH_ERR_NO_MORE_ITEMS:
        return ERROR_NO_MORE_ITEMS;
    case NTH_ERR_NOT_LOCKED:
        return ERROR_NOT_LOCKED;
    case NTH_OK:
    case NTH_ERR_COUNT:
        break;
    }
    return ERROR_GEN_FAILURE;
}

DWORD win32_fail_from_native(nth_error error, const void *address)
{
    DWORD code = win32_error_from_native(error, address);
    win32_last_error = code;
    return code;
}
