/*
 * tchar.h — shim for ported Windows code: the ANSI ("not _UNICODE") mapping of the generic-text
 * names. TCHAR is char, TEXT("x") and _T("x") are "x", _tmain is main, and _tprintf/_ftprintf
 * print the way the Microsoft C runtime does (see nth_win32_printf in <ntheap/win32.h>: "%#p"
 * gives "0X" and zero-padded upper-case hex).
 *
 * A test that includes a ported program can rename its entry point by defining _tmain before
 * including this file.
 */
#ifndef NTHEAP_COMPAT_TCHAR_H
#define NTHEAP_COMPAT_TCHAR_H

#include <stdio.h>
#include <string.h>

#include <ntheap/win32.h>

typedef char TCHAR;
typedef char _TCHAR;
typedef char *LPTSTR;
typedef const char *LPCTSTR;

#ifndef TEXT
#define TEXT(quote) quote
#endif
#ifndef _T
#define _T(quote) quote
#endif
#ifndef _TEXT
#define _TEXT(quote) quote
#endif

#ifndef _tmain
#define _tmain main
#endif

#define _tprintf nth_win32_printf
#define _ftprintf nth_win32_fprintf
#define _tcslen strlen
#define _tcscpy strcpy
#define _tcscmp strcmp
#define _tcsncpy strncpy

#endif /* NTHEAP_COMPAT_TCHAR_H */
