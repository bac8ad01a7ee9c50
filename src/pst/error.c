/*
 * error.c — building nth_pst_error values and naming statuses.
 *
 * Every failure of the library goes through pst_fail(), so all messages share one shape:
 *
 *     "<STRUCTURE> at offset 0x<hex>: <what is wrong>"
 *
 * where the offset is a file offset for data read from a file.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

nth_pst_status pst_fail(nth_pst_error *err, nth_pst_status status, const char *structure,
                        uint64_t offset, const char *fmt, ...)
{
    if (!err) return status;
    err->status = status;
    err->offset = offset;
    snprintf(err->structure, sizeof err->structure, "%s", structure ? structure : "");
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (structure && offset != NTH_PST_NO_OFFSET)
        snprintf(err->message, sizeof err->message, "%s at offset 0x%llx: %s", structure,
                 (unsigned long long)offset, what);
    else if (structure)
        snprintf(err->message, sizeof err->message, "%s: %s", structure, what);
    else
        snprintf(err->message, sizeof err->message, "%s", what);
    return status;
}

void pst_refer(nth_pst_error *err, const char *fmt, ...)
{
    if (!err) return;
    char who[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(who, sizeof who, fmt, ap);
    va_end(ap);
    size_t len = strlen(err->message);
    if (strstr(err->message, "(referred to by ")) return; /* the innermost referrer is enough */
    snprintf(err->message + len, sizeof err->message - len, " (referred to by %s)", who);
}

const char *nth_pst_status_name(nth_pst_status status)
{
    switch (status) {
    case NTH_PST_OK: return "ok";
    case NTH_PST_E_IO: return "i/o error";
    case NTH_PST_E_NO_MEMORY: return "out of memory";
    case NTH_PST_E_UNSUPPORTED: return "unsupported";
    case NTH_PST_E_CORRUPT: return "corrupt";
    case NTH_PST_E_NOT_FOUND: return "not found";
    case NTH_PST_E_INVALID: return "invalid argument";
    case NTH_PST_E_FULL: return "full";
    }
    return "unknown";
}
