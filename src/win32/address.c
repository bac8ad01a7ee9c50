/*
 * address.c — addresses a caller hands over that may be bad: whether one is mapped, without
 * touching it, and the copies to and from the small buffers of HeapSetInformation and
 * HeapQueryInformation, which never fault.
 *
 * Windows answers ERROR_NOACCESS when a heap call is given an address it cannot read (the kernel
 * raised an access violation inside the call), and ERROR_INVALID_PARAMETER when the address is
 * readable but not a block. ntheap never reads a bad pointer, so it asks the kernel instead:
 * mincore() fails with ENOMEM for a page that is not mapped. A reserved but uncommitted page
 * (PROT_NONE) counts as mapped.
 *
 * A buffer is copied through the kernel (process_vm_readv / process_vm_writev on this process),
 * which answers EFAULT for memory that is not mapped or not accessible the right way, so a wild
 * buffer is refused (ERROR_NOACCESS, as Windows answers it) instead of faulting inside the call.
 * Where the system refuses those calls themselves (a seccomp filter), the copy is a plain one.
 */
#include "win32/win32_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
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

/* Copies between this process's memory and a caller's buffer (`from` when from_caller, else
 * `to`) through the kernel; a plain copy when the system refuses the calls themselves. */
static bool copy_with_caller(void *to, const void *from, size_t length, bool from_caller)
{
    struct iovec here = {from_caller ? to : (void *)from, length};
    struct iovec caller = {from_caller ? (void *)from : to, length};
    int saved_errno = errno;
    ssize_t done = from_caller ? process_vm_readv(getpid(), &here, 1, &caller, 1, 0)
                               : process_vm_writev(getpid(), &here, 1, &caller, 1, 0);
    bool plain = done < 0 && (errno == ENOSYS || errno == EPERM); /* not asked, as opposed to refused */
    errno = saved_errno;
    if (plain) memcpy(to, from, length);
    return done == (ssize_t)length || plain;
}

bool win32_read_caller(void *to, const void *from, size_t length)
{
    return copy_with_caller(to, from, length, true);
}

bool win32_write_caller(void *to, const void *from, size_t length)
{
    return copy_with_caller(to, from, length, false);
}
