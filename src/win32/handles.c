/*
 * handles.c — the table of moveable-memory handles that LocalAlloc and GlobalAlloc share.
 *
 * The table is a private mapping of WIN32_HANDLE_CAPACITY entries of two pointer-sized words,
 * taken on first use (its pages are touched only as entries are handed out). Windows keeps it in
 * the process heap, where any HeapFree of the right address frees it under every live handle;
 * here no heap owns it, so such a free is refused as a wild pointer and the table cannot be
 * handed out as somebody's block:
 *
 *     table                                                        table + capacity
 *     |                                                            |
 *     +-------------------+-------------------+-----   -----+------+
 *     | flags | ptr       | flags | ptr       |     ...     |      |
 *     +-------------------+-------------------+-----   -----+------+
 *     0       8           16      24                        (offsets on 64-bit)
 *             ^ handle of entry 0 = &entry.ptr, so (handle & 15) == 8, while every heap block
 *               is 16-aligned: that is how a handle is told from a fixed pointer, and
 *               *(void **)handle is the current data pointer, as legacy code expects.
 *
 *     flags of a live entry        0x0001 in use          0x0002 moveable
 *                                  0x0004 discardable     0x0008 discarded (ptr NULL)
 *                                  0x8000 DDESHARE        bits 16..23 lock count (max 0xFF)
 *     e.g. moveable with data 0x3, zero-size 0xB, discardable zero-size 0xF, locked twice 0x20003
 *
 *     flags of a free entry        the address of the next free entry (16-aligned, so bit 0 is
 *                                  clear), or table + capacity at the end of the free list;
 *                                  checked before it is followed (a program can write it through a
 *                                  freed handle): a link that does not name a free entry of the
 *                                  table is reported, and the list is rebuilt from the entries
 *                                  not in use
 *
 * Entries [0, high_water) have been used at least once; entries past high_water are untouched
 * memory (their pages are never written until needed). A freed entry goes to the head of the
 * free list and is the next one handed out.
 *
 * The data block of a moveable object is an ordinary process-heap block allocated with
 * HEAP_SETTABLE_USER_VALUE | HEAP_SETTABLE_USER_FLAG1 whose user value is the handle
 * (localglobal.c), so HeapSize works on the data pointer and HeapWalk reports the block as
 * PROCESS_HEAP_ENTRY_MOVEABLE with its Block.hMem (walk.c).
 *
 * One mutex guards the table. It is never held while calling into a heap: the data blocks are
 * allocated and freed by the callers, outside it.
 */
#include "win32/win32_internal.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>

static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;
static win32_handle_entry *table;     /* NULL until the first moveable allocation */
static size_t high_water;             /* entries handed out at least once */
static win32_handle_entry *free_head; /* NULL: no freed entry to reuse */

#define TABLE_BYTES ((size_t)WIN32_HANDLE_CAPACITY * sizeof(win32_handle_entry))

/* Maps the table on first use; false (nothing changed) when the mapping fails. Mutex held. */
static bool table_ready_locked(void)
{
    if (table) return true;
    void *fresh = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) return false;
    table = fresh;
    return true;
}

static uintptr_t free_list_end(void)
{
    return (uintptr_t)(table + WIN32_HANDLE_CAPACITY);
}

/* The live entry of `handle`, or NULL. Mutex held. */
static win32_handle_entry *entry_of_locked(const void *handle)
{
    if (!table || !win32_is_handle_shaped(handle)) return NULL;
    uintptr_t at = (uintptr_t)handle - offsetof(win32_handle_entry, ptr);
    uintptr_t first = (uintptr_t)table;
    if (at < first || at >= first + high_water * sizeof(win32_handle_entry)) return NULL;
    if ((at - first) % sizeof(win32_handle_entry) != 0) return NULL;
    win32_handle_entry *entry = (win32_handle_entry *)at;
    return (entry->flags & WIN32_HANDLE_IN_USE) ? entry : NULL;
}

/* True when `next`, read from a free entry's flags word, may be followed: the end of the list, or
 * a used-before entry of the table that is not in use. That word is the one in front of a freed
 * handle, which a program can still write through it. Mutex held. */
static bool free_link_ok(uintptr_t next)
{
    if (next == free_list_end()) return true;
    uintptr_t first = (uintptr_t)table;
    if (next < first || next >= first + high_water * sizeof(win32_handle_entry) ||
        (next - first) % sizeof(win32_handle_entry) != 0)
        return false;
    return !(((const win32_handle_entry *)next)->flags & WIN32_HANDLE_IN_USE);
}

/* Rebuilds the free list from the table after a damaged link: every used-before entry that is not
 * in use but `taken`. An entry whose flags were overwritten with the in-use bit set stays out;
 * one whose live flags lost it was refused by every call already and is reused. Mutex held. */
static void relink_free_entries_locked(const win32_handle_entry *taken)
{
    free_head = NULL;
    for (size_t i = high_water; i-- > 0;) {
        win32_handle_entry *entry = &table[i];
        if (entry == taken || (entry->flags & WIN32_HANDLE_IN_USE)) continue;
        entry->ptr = NULL;
        entry->flags = free_head ? (uintptr_t)free_head : free_list_end();
        free_head = entry;
    }
}

HANDLE win32_handle_new(uintptr_t flags)
{
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = NULL;
    uintptr_t damaged_link = 0;
    if (table_ready_locked()) {
        if (free_head) {
            entry = free_head;
            uintptr_t next = entry->flags;
            if (free_link_ok(next)) {
                free_head = next == free_list_end() ? NULL : (win32_handle_entry *)next;
            } else {
                damaged_link = next;
                relink_free_entries_locked(entry);
            }
        } else if (high_water < WIN32_HANDLE_CAPACITY) {
            entry = &table[high_water++];
        }
    }
    if (entry) {
        entry->flags = flags | WIN32_HANDLE_IN_USE;
        entry->ptr = NULL;
    }
    pthread_mutex_unlock(&table_mutex);
    if (damaged_link)
        nth_report_layer_damage(nth_process_heap(), entry, "a freed handle's link to another free entry",
                                "a value that is not one (written through a freed handle?)");
    return entry ? (HANDLE)&entry->ptr : NULL;
}

static void release_locked(win32_handle_entry *entry)
{
    entry->ptr = NULL;
    entry->flags = free_head ? (uintptr_t)free_head : free_list_end();
    free_head = entry;
}

void win32_handle_release(HANDLE handle)
{
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = entry_of_locked(handle);
    if (entry) release_locked(entry);
    pthread_mutex_unlock(&table_mutex);
}

bool win32_handle_take(HANDLE handle, void **ptr)
{
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = entry_of_locked(handle);
    if (entry) {
        *ptr = entry->ptr;
        release_locked(entry);
    }
    pthread_mutex_unlock(&table_mutex);
    return entry != NULL;
}

bool win32_handle_get(HANDLE handle, win32_handle_state *state)
{
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = entry_of_locked(handle);
    if (entry) {
        state->flags = entry->flags;
        state->ptr = entry->ptr;
    }
    pthread_mutex_unlock(&table_mutex);
    return entry != NULL;
}

bool win32_handle_set(HANDLE handle, uintptr_t flags, void *ptr)
{
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = entry_of_locked(handle);
    if (entry) {
        entry->flags = flags | WIN32_HANDLE_IN_USE;
        entry->ptr = ptr;
    }
    pthread_mutex_unlock(&table_mutex);
    return entry != NULL;
}

static unsigned lock_count_of(uintptr_t flags)
{
    return (unsigned)(flags >> WIN32_HANDLE_LOCK_SHIFT) & WIN32_HANDLE_LOCK_MAX;
}

static uintptr_t with_lock_count(uintptr_t flags, unsigned count)
{
    flags &= ~((uintptr_t)WIN32_HANDLE_LOCK_MAX << WIN32_HANDLE_LOCK_SHIFT);
    return flags | ((uintptr_t)count << WIN32_HANDLE_LOCK_SHIFT);
}

bool win32_handle_lock(HANDLE handle, void **ptr)
{
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = entry_of_locked(handle);
    if (entry) {
        *ptr = entry->ptr;
        unsigned count = lock_count_of(entry->flags);
        if (entry->ptr && count < WIN32_HANDLE_LOCK_MAX) entry->flags = with_lock_count(entry->flags, count + 1);
    }
    pthread_mutex_unlock(&table_mutex);
    return entry != NULL;
}

int win32_handle_unlock(HANDLE handle)
{
    int before = -1;
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = entry_of_locked(handle);
    if (entry) {
        unsigned count = lock_count_of(entry->flags);
        before = (int)count;
        if (count > 0) entry->flags = with_lock_count(entry->flags, count - 1);
    }
    pthread_mutex_unlock(&table_mutex);
    return before;
}

unsigned win32_handle_lock_count(uintptr_t flags)
{
    return lock_count_of(flags);
}

HANDLE win32_handle_for_block(const void *ptr, uintptr_t value, uintptr_t *flags)
{
    pthread_mutex_lock(&table_mutex);
    win32_handle_entry *entry = entry_of_locked((const void *)value);
    bool match = entry && entry->ptr == ptr;
    if (match) *flags = entry->flags;
    pthread_mutex_unlock(&table_mutex);
    return match ? (HANDLE)value : NULL;
}
