/*
 * port_leak_report.c — a Win32-style program of the kind that gets ported: a small address book
 * kept in a private heap, a moveable GlobalAlloc buffer used as a "clipboard", and a leak report
 * built with HeapWalk at shutdown. It compiles unchanged against ntheap's <windows.h>/<tchar.h>
 * shims; on Windows it would build as it is.
 *
 * Output (one line per fact, so that a test can check it):
 *   LEAK <address> <bytes> bytes            busy blocks of the private heap at shutdown
 *   LEAKS <count> blocks, <bytes> bytes     the total
 *   CLIPBOARD <bytes> bytes, lock count <n> moveable memory state
 *   MOVEABLE <address> HANDLE <handle>      the clipboard's block in the process heap walk
 *   SUMMARY allocated <bytes>               HeapSummary of the private heap
 *   OK | FAILED <reason>
 */
#include <windows.h>
#include <tchar.h>
#include <stdio.h>

typedef struct CONTACT {
    struct CONTACT *pNext;
    DWORD dwId;
    TCHAR szName[1];
} CONTACT, *PCONTACT;

static HANDLE g_hBookHeap;
static PCONTACT g_pFirst;

static PCONTACT AddContact(DWORD dwId, LPCTSTR pszName)
{
    SIZE_T cb = sizeof(CONTACT) + _tcslen(pszName) * sizeof(TCHAR);
    PCONTACT pContact = (PCONTACT)HeapAlloc(g_hBookHeap, HEAP_ZERO_MEMORY, cb);
    if (pContact == NULL) {
        return NULL;
    }
    pContact->dwId = dwId;
    _tcscpy(pContact->szName, pszName);
    pContact->pNext = g_pFirst;
    g_pFirst = pContact;
    return pContact;
}

static BOOL RemoveContact(DWORD dwId)
{
    PCONTACT *ppLink;
    for (ppLink = &g_pFirst; *ppLink != NULL; ppLink = &(*ppLink)->pNext) {
        if ((*ppLink)->dwId == dwId) {
            PCONTACT pDead = *ppLink;
            *ppLink = pDead->pNext;
            return HeapFree(g_hBookHeap, 0, pDead);
        }
    }
    return FALSE;
}

/* Copies the book into a moveable global buffer, the way clipboard code does. */
static HGLOBAL CopyBookToClipboard(void)
{
    HGLOBAL hClip = GlobalAlloc(GHND, 64);
    SIZE_T cbUsed = 0;
    PCONTACT pContact;
    if (hClip == NULL) {
        return NULL;
    }
    for (pContact = g_pFirst; pContact != NULL; pContact = pContact->pNext) {
        SIZE_T cbName = _tcslen(pContact->szName);
        LPTSTR pszText;
        if (cbUsed + cbName + 2 > GlobalSize(hClip)) {
            HGLOBAL hBigger = GlobalReAlloc(hClip, (cbUsed + cbName + 2) * 2, GMEM_MOVEABLE | GMEM_ZEROINIT);
            if (hBigger == NULL) {
                GlobalFree(hClip);
                return NULL;
            }
            hClip = hBigger;
        }
        pszText = (LPTSTR)GlobalLock(hClip);
        CopyMemory(pszText + cbUsed, pContact->szName, cbName);
        pszText[cbUsed + cbName] = TEXT('\n');
        cbUsed += cbName + 1;
        GlobalUnlock(hClip);
    }
    return hClip;
}

/* Lists every busy block left in the heap: what a leak checker built on HeapWalk prints. */
static DWORD ReportLeaks(HANDLE hHeap, SIZE_T *pcbLeaked)
{
    PROCESS_HEAP_ENTRY Entry;
    DWORD dwLeaks = 0;
    *pcbLeaked = 0;
    if (!HeapLock(hHeap)) {
        return (DWORD)-1;
    }
    ZeroMemory(&Entry, sizeof(Entry));
    while (HeapWalk(hHeap, &Entry)) {
        if ((Entry.wFlags & PROCESS_HEAP_ENTRY_BUSY) != 0) {
            _tprintf(TEXT("LEAK %#p %u bytes\n"), Entry.lpData, Entry.cbData);
            dwLeaks++;
            *pcbLeaked += Entry.cbData;
        }
    }
    if (GetLastError() != ERROR_NO_MORE_ITEMS) {
        dwLeaks = (DWORD)-1;
    }
    HeapUnlock(hHeap);
    return dwLeaks;
}

static BOOL FindMoveableBlock(HGLOBAL hMem)
{
    PROCESS_HEAP_ENTRY Entry;
    HANDLE hProcessHeap = GetProcessHeap();
    BOOL fFound = FALSE;
    HeapLock(hProcessHeap);
    Entry.lpData = NULL;
    while (HeapWalk(hProcessHeap, &Entry)) {
        if ((Entry.wFlags & (PROCESS_HEAP_ENTRY_BUSY | PROCESS_HEAP_ENTRY_MOVEABLE)) ==
                (PROCESS_HEAP_ENTRY_BUSY | PROCESS_HEAP_ENTRY_MOVEABLE) &&
            Entry.Block.hMem == hMem) {
            _tprintf(TEXT("MOVEABLE %#p HANDLE %#p\n"), Entry.lpData, Entry.Block.hMem);
            fFound = TRUE;
        }
    }
    HeapUnlock(hProcessHeap);
    return fFound;
}

int _tmain(int argc, TCHAR *argv[])
{
    static const TCHAR *Names[] = {
        TEXT("Ada Lovelace"), TEXT("Charles Babbage"), TEXT("Grace Hopper"), TEXT("Alan Turing"),
        TEXT("Dave Cutler"), TEXT("Raymond Chen"), TEXT("Ken Thompson"),
    };
    DWORD i, dwLeaks;
    SIZE_T cbLeaked, cbExpected = 0;
    HGLOBAL hClip;
    HEAP_SUMMARY Summary;
    (void)argc;
    (void)argv;

    g_hBookHeap = HeapCreate(0, 0x10000, 0);
    if (g_hBookHeap == NULL) {
        _tprintf(TEXT("FAILED HeapCreate %u\n"), GetLastError());
        return 1;
    }
    for (i = 0; i < sizeof(Names) / sizeof(Names[0]); i++) {
        if (AddContact(i, Names[i]) == NULL) {
            _tprintf(TEXT("FAILED HeapAlloc %u\n"), GetLastError());
            return 1;
        }
    }

    hClip = CopyBookToClipboard();
    if (hClip == NULL) {
        _tprintf(TEXT("FAILED GlobalAlloc %u\n"), GetLastError());
        return 1;
    }
    GlobalLock(hClip);
    _tprintf(TEXT("CLIPBOARD %u bytes, lock count %u\n"), (DWORD)GlobalSize(hClip),
             GlobalFlags(hClip) & GMEM_LOCKCOUNT);
    if (!FindMoveableBlock(hClip)) {
        _tprintf(TEXT("FAILED moveable block not in the walk\n"));
        return 1;
    }
    GlobalUnlock(hClip);
    if (GlobalFree(hClip) != NULL) {
        _tprintf(TEXT("FAILED GlobalFree %u\n"), GetLastError());
        return 1;
    }

    /* Shutdown forgets to remove three contacts: 0, 3 and 6. */
    for (i = 0; i < sizeof(Names) / sizeof(Names[0]); i++) {
        if (i % 3 == 0) {
            cbExpected += sizeof(CONTACT) + _tcslen(Names[i]) * sizeof(TCHAR);
            continue;
        }
        if (!RemoveContact(i)) {
            _tprintf(TEXT("FAILED HeapFree %u\n"), GetLastError());
            return 1;
        }
    }

    dwLeaks = ReportLeaks(g_hBookHeap, &cbLeaked);
    _tprintf(TEXT("LEAKS %u blocks, %Iu bytes\n"), dwLeaks, cbLeaked);

    Summary.cb = sizeof(Summary);
    if (!HeapSummary(g_hBookHeap, 0, &Summary)) {
        _tprintf(TEXT("FAILED HeapSummary %u\n"), GetLastError());
        return 1;
    }
    _tprintf(TEXT("SUMMARY allocated %Iu\n"), Summary.cbAllocated);

    if (!HeapDestroy(g_hBookHeap)) {
        _tprintf(TEXT("FAILED HeapDestroy %u\n"), GetLastError());
        return 1;
    }
    if (dwLeaks != 3 || cbLeaked != cbExpected || Summary.cbAllocated != cbExpected) {
        _tprintf(TEXT("FAILED leak report does not match\n"));
        return 1;
    }
    _tprintf(TEXT("OK\n"));
    return 0;
}
