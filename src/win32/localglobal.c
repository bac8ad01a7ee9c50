/*
 * localglobal.c — LocalAlloc ... LocalSize and the Global* twins, on the process heap.
 *
 * Local and Global are one implementation with one handle table (handles.c); the few places
 * where Windows makes them differ take a `family` argument:
 *
 *   difference                              Local                     Global
 *   discardable flag                        LMEM_DISCARDABLE 0x0F00   GMEM_DISCARDABLE 0x0100
 *   DDESHARE kept on moveable objects       no                        yes (GMEM_DDESHARE)
 *   fixed allocation of 0 bytes             size 0                    size 1
 *   Unlock of a fixed object                FALSE, ERROR_NOT_LOCKED   TRUE
 *   Unlock of a freed/bogus handle          FALSE, ERROR_INVALID_HANDLE  TRUE, ERROR_INVALID_HANDLE
 *   Lock of a bogus pointer                 NULL, last error kept     NULL, ERROR_INVALID_HANDLE
 *   Flags/Handle of an unmapped pointer     ERROR_NOACCESS            ERROR_INVALID_HANDLE
 *   ReAlloc(fixed, MODIFY | MOVEABLE)       same pointer              converted to a moveable handle
 *
 * Every value passed in is first classified:
 *
 *   NULL          -> the NULL cases of each function
 *   handle-shaped ((value & 15) == 8 on 64-bit): a live table entry -> moveable object,
 *                 otherwise a freed or bogus handle (ERROR_INVALID_HANDLE)
 *   16-aligned    a live block of the process heap -> fixed object, otherwise a bogus pointer
 *                 (ERROR_NOACCESS when unmapped)
 *   anything else -> bogus handle
 *
 * Heap calls are made without the table mutex held; each table update is one short critical
 * section in handles.c.
 */
#include "win32/win32_internal.h"

#include <string.h>

typedef enum family { FAMILY_LOCAL, FAMILY_GLOBAL } family;

typedef enum value_kind {
    KIND_NULL,
    KIND_HANDLE,      /* live moveable handle */
    KIND_BAD_HANDLE,  /* handle-shaped but not live, or misaligned */
    KIND_FIXED,       /* live block of the process heap */
    KIND_BAD_POINTER, /* pointer-shaped but not a live process-heap block */
} value_kind;

#define MOVEABLE_DATA_FLAGS (HEAP_SETTABLE_USER_VALUE | WIN32_MOVEABLE_USER_FLAG)

static nth_heap *process_heap(void)
{
    return nth_process_heap();
}

static value_kind classify(const void *value, win32_handle_state *state)
{
    if (value == NULL) return KIND_NULL;
    if (win32_is_handle_shaped(value)) return win32_handle_get((HANDLE)value, state) ? KIND_HANDLE : KIND_BAD_HANDLE;
    if (((uintptr_t)value & (2 * sizeof(void *) - 1)) != 0) return KIND_BAD_HANDLE;
    nth_heap *process = process_heap();
    return process && nth_heap_from_pointer(value) == process ? KIND_FIXED : KIND_BAD_POINTER;
}

static UINT discardable_flag(family f)
{
    return f == FAMILY_GLOBAL ? GMEM_DISCARDABLE : LMEM_DISCARDABLE;
}

static uintptr_t moveable_entry_flags(family f, UINT flags)
{
    uintptr_t entry = WIN32_HANDLE_IN_USE | WIN32_HANDLE_MOVEABLE;
    if (flags & discardable_flag(f)) entry |= WIN32_HANDLE_DISCARDABLE;
    if (f == FAMILY_GLOBAL && (flags & GMEM_DDESHARE)) entry |= WIN32_HANDLE_DDESHARE;
    return entry;
}

/* The error for a pointer-shaped value that is not a block: Windows faults on an unmapped one
 * (ERROR_NOACCESS) and reports a handle error for the rest. */
static DWORD bad_pointer_error(const void *value)
{
    return win32_address_is_mapped(value) ? ERROR_INVALID_HANDLE : ERROR_NOACCESS;
}

/* A data block for moveable handle `handle`: a process-heap block whose user value is the
 * handle and whose user flag 1 marks it moveable. */
static void *data_block_new(HANDLE handle, SIZE_T bytes, bool zero)
{
    nth_heap *process = process_heap();
    void *data = nth_heap_alloc(process, MOVEABLE_DATA_FLAGS | (zero ? HEAP_ZERO_MEMORY : 0), bytes);
    if (data && !nth_heap_set_user_value(process, data, (uintptr_t)handle)) {
        (void)nth_heap_free(process, 0, data);
        data = NULL;
    }
    if (data && zero) win32_zero_past_request(process, data, bytes);
    return data;
}

static void data_block_free(void *data)
{
    if (!data) return;
    (void)nth_heap_free(process_heap(), 0, data);
}

/* True if the block carries the moveable mark and a user value, which is then in *handle. */
static bool block_user_handle(const void *ptr, uintptr_t *handle)
{
    uint32_t user_flags = 0;
    if (!nth_heap_get_user_info(process_heap(), ptr, handle, &user_flags)) return false;
    return (user_flags & WIN32_MOVEABLE_USER_FLAG) != 0 && *handle != 0;
}

/* True when `data`, the data pointer a handle's slot holds, is still that handle's block. A
 * HeapFree or HeapReAlloc of the data pointer behind the handle's back leaves the slot naming
 * memory that is free (the check reports it) or somebody else's block now: the handle's free or
 * resize must then leave it alone rather than free or move another owner's block. */
static bool handle_owns(HANDLE handle, void *data)
{
    uintptr_t owner = 0;
    /* nth_heap_from_pointer first: it looks without reporting, and freed memory is not misuse
     * here, only a dangling handle to tell apart. */
    return data && nth_heap_from_pointer(data) == process_heap() && block_user_handle(data, &owner) &&
           owner == (uintptr_t)handle;
}

/* Resizes the data block of a moveable object, keeping its user value. `may_move` false allows
 * only an in-place resize. NULL on failure, with the old block untouched. */
static void *data_block_resize(HANDLE handle, void *data, SIZE_T bytes, bool zero, bool may_move)
{
    nth_heap *process = process_heap();
    uint32_t flags = (zero ? HEAP_ZERO_MEMORY : 0) | (may_move ? 0 : HEAP_REALLOC_IN_PLACE_ONLY);
    void *resized = nth_heap_realloc(process, flags, data, bytes);
    if (resized && zero) win32_zero_past_request(process, resized, bytes);
    if (!resized) return NULL;
    uintptr_t value = 0;
    if (block_user_handle(resized, &value) && value == (uintptr_t)handle) return resized;
    /* The heap moved the block without its user information: move it once more, by hand, into a
     * block that has it. */
    if (nth_heap_set_user_value(process, resized, (uintptr_t)handle) && block_user_handle(resized, &value))
        return resized;
    void *fresh = data_block_new(handle, bytes, false);
    if (!fresh) {
        data_block_free(resized);
        return NULL;
    }
    memcpy(fresh, resized, bytes);
    if (zero) win32_zero_past_request(process, fresh, bytes);
    data_block_free(resized);
    return fresh;
}

/* ------------------------------------------------------------------------------ allocate */

static HANDLE alloc_object(family f, UINT flags, SIZE_T bytes)
{
    nth_heap *process = process_heap();
    if (!process) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    bool zero = (flags & GMEM_ZEROINIT) != 0;
    if (!(flags & GMEM_MOVEABLE)) {
        if (f == FAMILY_GLOBAL && bytes == 0) bytes = 1;
        void *p = nth_heap_alloc(process, zero ? HEAP_ZERO_MEMORY : 0, bytes);
        if (p && zero) win32_zero_past_request(process, p, bytes);
        if (!p) SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return p;
    }
    uintptr_t entry_flags = moveable_entry_flags(f, flags);
    HANDLE handle = win32_handle_new(entry_flags | (bytes == 0 ? WIN32_HANDLE_DISCARDED : 0));
    if (!handle) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    if (bytes == 0) return handle;
    void *data = data_block_new(handle, bytes, zero);
    if (!data) {
        win32_handle_release(handle);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    (void)win32_handle_set(handle, entry_flags, data);
    return handle;
}

/* ---------------------------------------------------------------------------------- free */

static HANDLE free_object(family f, HANDLE value)
{
    (void)f;
    win32_handle_state state;
    void *data = NULL;
    switch (classify(value, &state)) {
    case KIND_NULL:
        return NULL;
    case KIND_HANDLE:
        if (!win32_handle_take(value, &data)) break;
        if (!data) return NULL; /* discarded: no data block */
        if (handle_owns(value, data)) {
            data_block_free(data);
            return NULL;
        }
        /* Its data was freed behind its back: the handle goes, the block (somebody else's now, or
         * free) is left alone, and the call fails. */
        SetLastError(ERROR_INVALID_HANDLE);
        return value;
    case KIND_FIXED: {
        /* The data pointer of a moveable object frees the whole object, handle included, so that
         * no handle is left pointing at freed memory. */
        uintptr_t handle = 0;
        if (block_user_handle(value, &handle) && win32_handle_get((HANDLE)handle, &state) && state.ptr == value &&
            win32_handle_take((HANDLE)handle, &data)) {
            data_block_free(data);
            return NULL;
        }
        bool ok = nth_heap_free(process_heap(), 0, value);
        if (ok) return NULL;
        SetLastError(ERROR_INVALID_HANDLE);
        return value;
    }
    case KIND_BAD_POINTER:
        /* A freed, interior or foreign pointer: the native free refuses and reports it, as for
         * HeapFree (a block that is live again by now is freed, as HeapFree would free it). */
        if (nth_heap_free(process_heap(), 0, value)) return NULL;
        SetLastError(bad_pointer_error(value));
        return value;
    case KIND_BAD_HANDLE:
        break;
    }
    SetLastError(ERROR_INVALID_HANDLE);
    return value;
}

/* ---------------------------------------------------------------------------- lock/unlock */

static LPVOID lock_object(family f, HANDLE value)
{
    win32_handle_state state;
    switch (classify(value, &state)) {
    case KIND_HANDLE: {
        void *data = NULL;
        if (!win32_handle_lock(value, &data)) break;
        if (!data) {
            SetLastError(ERROR_DISCARDED);
        } else if (!handle_owns(value, data)) { /* its data was freed behind its back */
            (void)win32_handle_unlock(value);
            SetLastError(ERROR_INVALID_HANDLE);
            return NULL;
        }
        return data;
    }
    case KIND_FIXED:
        return value;
    case KIND_BAD_POINTER:
        if (f == FAMILY_GLOBAL) SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    case KIND_NULL:
    case KIND_BAD_HANDLE:
        break;
    }
    SetLastError(ERROR_INVALID_HANDLE);
    return NULL;
}

static BOOL unlock_object(family f, HANDLE value)
{
    win32_handle_state state;
    switch (classify(value, &state)) {
    case KIND_HANDLE: {
        int before = win32_handle_unlock(value);
        if (before < 0) break;
        if (before == 0) {
            SetLastError(ERROR_NOT_LOCKED);
            return FALSE;
        }
        if (before == 1) {
            SetLastError(NO_ERROR);
            return FALSE;
        }
        return TRUE;
    }
    case KIND_FIXED:
    case KIND_BAD_POINTER:
        if (f == FAMILY_GLOBAL) return TRUE;
        SetLastError(ERROR_NOT_LOCKED);
        return FALSE;
    case KIND_NULL:
    case KIND_BAD_HANDLE:
        break;
    }
    SetLastError(ERROR_INVALID_HANDLE);
    return f == FAMILY_GLOBAL ? TRUE : FALSE;
}

/* ------------------------------------------------------------------------ flags/size/handle */

static UINT flags_of_object(family f, HANDLE value)
{
    win32_handle_state state;
    switch (classify(value, &state)) {
    case KIND_HANDLE: {
        UINT flags = win32_handle_lock_count(state.flags);
        if (state.flags & WIN32_HANDLE_DISCARDABLE) flags |= discardable_flag(f);
        if (state.flags & WIN32_HANDLE_DDESHARE) flags |= GMEM_DDESHARE;
        if (state.ptr == NULL) flags |= GMEM_DISCARDED;
        return flags;
    }
    case KIND_FIXED:
        return 0;
    case KIND_BAD_POINTER:
        SetLastError(f == FAMILY_GLOBAL ? ERROR_INVALID_HANDLE : bad_pointer_error(value));
        return GMEM_INVALID_HANDLE;
    case KIND_NULL:
    case KIND_BAD_HANDLE:
        break;
    }
    SetLastError(ERROR_INVALID_HANDLE);
    return GMEM_INVALID_HANDLE;
}

static SIZE_T size_of_object(family f, HANDLE value)
{
    (void)f;
    win32_handle_state state;
    const void *data = NULL;
    switch (classify(value, &state)) {
    case KIND_HANDLE:
        if (state.ptr == NULL) return 0; /* discarded */
        if (!handle_owns(value, state.ptr)) { /* its data was freed behind its back */
            SetLastError(ERROR_INVALID_HANDLE);
            return 0;
        }
        data = state.ptr;
        break;
    case KIND_FIXED:
        data = value;
        break;
    case KIND_NULL:
    case KIND_BAD_HANDLE:
    case KIND_BAD_POINTER:
        SetLastError(ERROR_INVALID_HANDLE);
        return 0;
    }
    size_t size = nth_heap_size(process_heap(), 0, data);
    if (size == NTH_SIZE_ERROR) {
        SetLastError(ERROR_INVALID_HANDLE);
        return 0;
    }
    return size;
}

static HANDLE handle_of_pointer(family f, LPCVOID pointer)
{
    win32_handle_state state;
    switch (classify(pointer, &state)) {
    case KIND_HANDLE:
        return (HANDLE)pointer;
    case KIND_FIXED: {
        /* As on Windows, the block's user value is the answer for a moveable data block. */
        uintptr_t handle = 0;
        if (block_user_handle(pointer, &handle)) return (HANDLE)handle;
        return (HANDLE)pointer;
    }
    case KIND_BAD_POINTER:
        SetLastError(f == FAMILY_GLOBAL ? ERROR_INVALID_HANDLE : bad_pointer_error(pointer));
        return NULL;
    case KIND_NULL:
    case KIND_BAD_HANDLE:
        break;
    }
    SetLastError(ERROR_INVALID_HANDLE);
    return NULL;
}

/* -------------------------------------------------------------------------------- realloc */

/* GMEM_MODIFY: change attributes only. A Global fixed block with MOVEABLE becomes a moveable
 * object (its data moves into a block that can carry the handle); Local never converts. */
static HANDLE modify_object(family f, HANDLE value, value_kind kind, const win32_handle_state *state, UINT flags)
{
    if (kind == KIND_HANDLE) {
        uintptr_t entry = state->flags;
        if (flags & discardable_flag(f)) entry |= WIN32_HANDLE_DISCARDABLE;
        if (!win32_handle_set(value, entry, state->ptr)) {
            SetLastError(ERROR_INVALID_HANDLE);
            return NULL;
        }
        return value;
    }
    if (f == FAMILY_LOCAL || !(flags & GMEM_MOVEABLE)) return value;

    nth_heap *process = process_heap();
    size_t bytes = nth_heap_size(process, 0, value);
    if (bytes == NTH_SIZE_ERROR) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    uintptr_t entry = moveable_entry_flags(f, flags);
    HANDLE handle = win32_handle_new(entry | (bytes == 0 ? WIN32_HANDLE_DISCARDED : 0));
    if (!handle) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    void *data = NULL;
    if (bytes != 0) {
        data = data_block_new(handle, bytes, false);
        if (!data) {
            win32_handle_release(handle);
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return NULL;
        }
        memcpy(data, value, bytes);
    }
    (void)win32_handle_set(handle, entry | (bytes == 0 ? WIN32_HANDLE_DISCARDED : 0), data);
    data_block_free(value);
    return handle;
}

/* Resizing a moveable object. A locked object moves only with MOVEABLE; size 0 discards, which
 * needs MOVEABLE and no lock; a discarded object gets a fresh data block. */
static HANDLE resize_moveable_object(HANDLE value, const win32_handle_state *state, SIZE_T bytes, UINT flags)
{
    bool zero = (flags & GMEM_ZEROINIT) != 0;
    bool moveable = (flags & GMEM_MOVEABLE) != 0;
    unsigned locks = win32_handle_lock_count(state->flags);
    uintptr_t entry = state->flags;

    if (bytes == 0) {
        if (state->ptr == NULL) return value;
        if (!moveable || locks > 0) {
            SetLastError(ERROR_INVALID_PARAMETER);
            return NULL;
        }
        void *old = NULL;
        win32_handle_state now;
        if (!win32_handle_get(value, &now)) {
            SetLastError(ERROR_INVALID_HANDLE);
            return NULL;
        }
        old = now.ptr;
        (void)win32_handle_set(value, now.flags | WIN32_HANDLE_DISCARDED, NULL);
        if (handle_owns(value, old)) data_block_free(old);
        return value;
    }
    if (state->ptr == NULL) {
        void *data = data_block_new(value, bytes, zero);
        if (!data) {
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return NULL;
        }
        (void)win32_handle_set(value, entry & ~(uintptr_t)WIN32_HANDLE_DISCARDED, data);
        return value;
    }
    if (!handle_owns(value, state->ptr)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    void *data = data_block_resize(value, state->ptr, bytes, zero, moveable || locks == 0);
    if (!data) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    win32_handle_state now;
    if (win32_handle_get(value, &now)) (void)win32_handle_set(value, now.flags, data);
    return value;
}

static HANDLE realloc_object(family f, HANDLE value, SIZE_T bytes, UINT flags)
{
    win32_handle_state state = { 0, NULL };
    value_kind kind = classify(value, &state);
    switch (kind) {
    case KIND_NULL:
    case KIND_BAD_HANDLE:
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    case KIND_BAD_POINTER:
        SetLastError(bad_pointer_error(value));
        return NULL;
    case KIND_HANDLE:
    case KIND_FIXED:
        break;
    }
    if (flags & GMEM_MODIFY) return modify_object(f, value, kind, &state, flags);
    /* Making an object discardable is an attribute change: without MODIFY it is refused. */
    if (flags & discardable_flag(f)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    if (kind == KIND_HANDLE) return resize_moveable_object(value, &state, bytes, flags);

    /* A fixed block keeps its address unless MOVEABLE allows it to move. */
    uint32_t heap_flags = (flags & GMEM_ZEROINIT) ? HEAP_ZERO_MEMORY : 0;
    if (!(flags & GMEM_MOVEABLE)) heap_flags |= HEAP_REALLOC_IN_PLACE_ONLY;
    void *p = nth_heap_realloc(process_heap(), heap_flags, value, bytes);
    if (p && (heap_flags & HEAP_ZERO_MEMORY)) win32_zero_past_request(process_heap(), p, bytes);
    if (!p) SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return p;
}

/* ------------------------------------------------------------------------- the Win32 names */

/* Each Win32 name runs its family's function with the name set for the native reporter, so that
 * a report from any native call made under it names the Win32 call. */
#define WIN32_NAME(type, name, parameters, body) \
    type WINAPI name parameters                  \
    {                                            \
        win32_enter(#name);                      \
        type result = body;                      \
        win32_leave();                           \
        return result;                           \
    }

WIN32_NAME(HLOCAL, LocalAlloc, (UINT uFlags, SIZE_T uBytes), alloc_object(FAMILY_LOCAL, uFlags, uBytes))
WIN32_NAME(HLOCAL, LocalReAlloc, (HLOCAL hMem, SIZE_T uBytes, UINT uFlags),
           realloc_object(FAMILY_LOCAL, hMem, uBytes, uFlags))
WIN32_NAME(HLOCAL, LocalFree, (HLOCAL hMem), free_object(FAMILY_LOCAL, hMem))
WIN32_NAME(LPVOID, LocalLock, (HLOCAL hMem), lock_object(FAMILY_LOCAL, hMem))
WIN32_NAME(BOOL, LocalUnlock, (HLOCAL hMem), unlock_object(FAMILY_LOCAL, hMem))
WIN32_NAME(HLOCAL, LocalHandle, (LPCVOID pMem), handle_of_pointer(FAMILY_LOCAL, pMem))
WIN32_NAME(UINT, LocalFlags, (HLOCAL hMem), flags_of_object(FAMILY_LOCAL, hMem))
WIN32_NAME(SIZE_T, LocalSize, (HLOCAL hMem), size_of_object(FAMILY_LOCAL, hMem))

WIN32_NAME(HGLOBAL, GlobalAlloc, (UINT uFlags, SIZE_T dwBytes), alloc_object(FAMILY_GLOBAL, uFlags, dwBytes))
WIN32_NAME(HGLOBAL, GlobalReAlloc, (HGLOBAL hMem, SIZE_T dwBytes, UINT uFlags),
           realloc_object(FAMILY_GLOBAL, hMem, dwBytes, uFlags))
WIN32_NAME(HGLOBAL, GlobalFree, (HGLOBAL hMem), free_object(FAMILY_GLOBAL, hMem))
WIN32_NAME(LPVOID, GlobalLock, (HGLOBAL hMem), lock_object(FAMILY_GLOBAL, hMem))
WIN32_NAME(BOOL, GlobalUnlock, (HGLOBAL hMem), unlock_object(FAMILY_GLOBAL, hMem))
WIN32_NAME(HGLOBAL, GlobalHandle, (LPCVOID pMem), handle_of_pointer(FAMILY_GLOBAL, pMem))
WIN32_NAME(UINT, GlobalFlags, (HGLOBAL hMem), flags_of_object(FAMILY_GLOBAL, hMem))
WIN32_NAME(SIZE_T, GlobalSize, (HGLOBAL hMem), size_of_object(FAMILY_GLOBAL, hMem))
