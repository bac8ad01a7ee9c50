/*
 * address.c — whether an address is mapped, without touching it.
 *
 * Windows answers ERROR_NOACCESS when a heap call is given an address it cannot read (the kernel
 * raised an access violation inside the call), and ERROR_INVALID_PARAMETER when the address is
 * readable but not a block. ntheap never reads a bad pointer, so it asks the kernel instead:
 * mincore() fails with ENOMEM for a page that is not mapped. A reserved but uncommitted page
 * (PROT_NONE) counts as mapped.
 */
#include "win32/win32_internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

bool win32_address_is_mapped(const void *address)
{
    int saved_errno = errno;
    uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t page = (uintptr_t)address & ~(page_size - 1);
    unsigned char resident;
    bool mapped = mincore((void *)page, 1, &resident) == 0 || errno != ENOMEM;
    errno = saved_errno;
    return mapped;
}
