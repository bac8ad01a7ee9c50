/*
 * windows.h — shim for ported Windows code: `#include <windows.h>` brings in the Win32 heap API
 * of ntheap (<ntheap/win32.h>) and the few compiler words Windows sources use. Build ported code
 * with -I<prefix>/include/ntheap/compat so that this file is found instead of a real windows.h.
 *
 * Only the heap, Local/Global and last-error parts of the Windows API exist; anything else a
 * program uses must come from elsewhere.
 */
#ifndef NTHEAP_COMPAT_WINDOWS_H
#define NTHEAP_COMPAT_WINDOWS_H

#include <ntheap/win32.h>

/* Calling conventions mean nothing on x86-64 Linux. */
#ifndef __cdecl
#define __cdecl
#endif
#ifndef __stdcall
#define __stdcall
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef APIENTRY
#define APIENTRY
#endif

#ifndef VOID
#define VOID void
#endif

/* The memory macros of winnt.h/minwinbase.h. */
#include <string.h>
#ifndef ZeroMemory
#define ZeroMemory(destination, length) memset((destination), 0, (length))
#define FillMemory(destination, length, fill) memset((destination), (fill), (length))
#define CopyMemory(destination, source, length) memcpy((destination), (source), (length))
#define MoveMemory(destination, source, length) memmove((destination), (source), (length))
#endif

#if !defined(NOMINMAX) && !defined(__cplusplus)
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#endif

#endif /* NTHEAP_COMPAT_WINDOWS_H */
