/*
 * error.c — the thread-local last error of the native API, and the error names.
 * Successful calls never touch it, as with Windows' GetLastError.
 */
#include "heap/internal.h"

static NTH_TLS nth_error last_error;

nth_error nth_last_error(void)
{
    return last_error;
}

void nth_set_last_error(nth_error error)
{
    last_error = error;
}

const char *nth_error_name(nth_error error)
{
    static const char *const names[NTH_ERR_COUNT] = {
        [NTH_OK] = "NTH_OK",
        [NTH_ERR_NO_MEMORY] = "NTH_ERR_NO_MEMORY",
        [NTH_ERR_INVALID_PARAMETER] = "NTH_ERR_INVALID_PARAMETER",
        [NTH_ERR_INVALID_HANDLE] = "NTH_ERR_INVALID_HANDLE",
        [NTH_ERR_INVALID_POINTER] = "NTH_ERR_INVALID_POINTER",
        [NTH_ERR_DOUBLE_FREE] = "NTH_ERR_DOUBLE_FREE",
        [NTH_ERR_WRONG_HEAP] = "NTH_ERR_WRONG_HEAP",
        [NTH_ERR_CORRUPT] = "NTH_ERR_CORRUPT",
        [NTH_ERR_CANNOT_MOVE] = "NTH_ERR_CANNOT_MOVE",
        [NTH_ERR_NO_MORE_ITEMS] = "NTH_ERR_NO_MORE_ITEMS",
        [NTH_ERR_NOT_LOCKED] = "NTH_ERR_NOT_LOCKED",
        [NTH_ERR_NOT_SUPPORTED] = "NTH_ERR_NOT_SUPPORTED",
    };
    return (unsigned)error < NTH_ERR_COUNT ? names[error] : "NTH_ERR_UNKNOWN";
}
