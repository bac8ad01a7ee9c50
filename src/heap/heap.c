/*
 * heap.c — heap objects: create, destroy, the process heap, the registry of live heaps, handle
 * checks and the heap lock.
 *
 * The registry (nth_heap_registry) is the one symbol from which every heap is found, by this
 * process or by an outside reader: it leads to the process heap and to a list of all heaps
 * through heap->next_heap. A handle is accepted only if it is on that list, so a stale or wild
 * handle is refused without being dereferenced.
 *
 * Lock order: registry_lock before any heap lock (see lock.h). fork() is made safe here:
 * pthread_atfork handlers take every engine lock in that order and release them on both sides.
 *
 * Options: nth_heap_set_option / nth_heap_get_option, expanded from options.def (options.c only
 * parses the environment), and the exit-time validator of every heap (validate_at_exit).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "heap/debug/debug.h"
#include "heap/debug/tags.h"
#include "heap/internal.h"
#include "heap/lfh.h"
#include "heap/vm.h"

NTH_API nth_registry nth_heap_registry = {
    .magic = NTH_REGISTRY_MAGIC,
    .layout_version = NTH_LAYOUT_VERSION,
    .heap_struct_size = sizeof(nth_heap),
    .segment_struct_size = sizeof(nth_segment),
};

NTH_TLS char nth_thread_anchor;

#if NTH_DEBUG
NTH_TLS uint32_t nth_held_ranks[NTH_RANK_LIMIT];
NTH_TLS uint32_t nth_unserialized_calls;

static const char *rank_name(nth_lock_rank rank)
{
    switch (rank) {
    case NTH_RANK_REGISTRY: return "registry";
    case NTH_RANK_HEAP: return "heap";
    case NTH_RANK_CACHE: return "cache";
    case NTH_RANK_ADDRMAP: return "address-map";
    default: return "unknown";
    }
}

void nth_lock_order_violated(nth_lock_rank acquiring, nth_lock_rank held)
{
    fprintf(stderr,
            "ntheap: lock order violated: acquiring the %s lock (rank %d) while holding the %s lock (rank %d); "
            "the order is registry < heap < cache < address map\n",
            rank_name(acquiring), (int)acquiring, rank_name(held), (int)held);
    abort();
}

void nth_assert_held_failed(const nth_heap *heap, const char *function)
{
    fprintf(stderr, "ntheap: %s: called without the lock of heap %p (a *_locked function)\n", function,
            (const void *)heap);
    abort();
}
#endif
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t process_heap_once = PTHREAD_ONCE_INIT;
static pthread_once_t fork_hooks_once = PTHREAD_ONCE_INIT;

/* fork(): every engine lock is taken, in the documented order, before the fork and released in
 * both processes after it, so the child inherits no lock held by a thread it does not have.
 * (The child's single thread is the forking thread, so it may release what it took.)
 * The one exemption from the rank check: a thread may fork while it holds heap locks taken with
 * nth_heap_lock (HeapLock, then fork), and then takes the registry lock after them. That waits
 * only if another thread holds the registry lock, which it then holds while waiting for a heap
 * lock only in its own fork handler or in the exit-time validator: two forks racing while one
 * forking thread holds HeapLock can still deadlock, as they can with Windows' own heap. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
    nth_rank_acquired(NTH_RANK_REGISTRY);
    for (nth_heap *heap = nth_heap_registry.first_heap; heap; heap = heap->next_heap) {
        if (heap->flags & NTH_NO_SERIALIZE) continue;
        nth_lock_acquire(&heap->lock);
        nth_lfh_pause(heap); /* no fast path is half-way through a subsegment at the fork */
    }
    nth_lfh_fork_prepare();
    nth_addrmap_fork_prepare();
    nth_regions_fork_prepare();
    nth_vm_fork_prepare();
}

static void fork_release(void)
{
    nth_vm_fork_release();
    nth_regions_fork_release();
    nth_addrmap_fork_release();
    nth_lfh_fork_release();
    for (nth_heap *heap = nth_heap_registry.first_heap; heap; heap = heap->next_heap) {
        if (heap->flags & NTH_NO_SERIALIZE) continue;
        nth_lfh_resume(heap);
        nth_lock_release(&heap->lock);
    }
    nth_mutex_unlock(&registry_lock, NTH_RANK_REGISTRY);
}

static void register_fork_hooks(void)
{
    pthread_atfork(fork_prepare, fork_release, fork_release);
}

bool nth_heap_is_valid_handle(const nth_heap *heap)
{
    return nth_heap_handle_ok(heap);
}

static void registry_add(nth_heap *heap)
{
    nth_mutex_lock(&registry_lock, NTH_RANK_REGISTRY);
    heap->prev_heap = NULL;
    heap->next_heap = NULL;
    /* Append, so the list runs in creation order with the process heap first. */
    nth_heap **link = &nth_heap_registry.first_heap;
    nth_heap *prev = NULL;
    while (*link) {
        prev = *link;
        link = &(*link)->next_heap;
    }
    heap->prev_heap = prev;
    *link = heap;
    nth_heap_registry.n_heaps++;
    nth_mutex_unlock(&registry_lock, NTH_RANK_REGISTRY);
}

static void registry_remove(nth_heap *heap)
{
    nth_mutex_lock(&registry_lock, NTH_RANK_REGISTRY);
    if (heap->prev_heap)
        heap->prev_heap->next_heap = heap->next_heap;
    else
        nth_heap_registry.first_heap = heap->next_heap;
    if (heap->next_heap) heap->next_heap->prev_heap = heap->prev_heap;
    nth_heap_registry.n_heaps--;
    nth_mutex_unlock(&registry_lock, NTH_RANK_REGISTRY);
}

static void arm_exit_validator(void);

nth_heap *nth_heap_create(uint32_t flags, size_t initial_size, size_t maximum_size)
{
    nth_options_load();
    if (nth_process_defaults.validate_at_exit) arm_exit_validator();
    pthread_once(&fork_hooks_once, register_fork_hooks);
    nth_heap *heap = nth_backend_create_heap(flags | nth_debug_heap_flags(), initial_size, maximum_size);
    if (!heap) {
        nth_set_last_error(NTH_ERR_NO_MEMORY);
        return NULL;
    }
    nth_debug_heap_created(heap);
    registry_add(heap);
    return heap;
}

static void create_process_heap(void)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_registry.process_heap = heap;
    nth_tags_options_changed(); /* tags=module starts with the process heap */
}

nth_heap *nth_process_heap(void)
{
    nth_heap *heap = nth_heap_registry.process_heap;
    if (NTH_LIKELY(heap != NULL)) return heap;
    pthread_once(&process_heap_once, create_process_heap);
    return nth_heap_registry.process_heap;
}

_Atomic uint64_t nth_heap_destroys;

bool nth_heap_destroy(nth_heap *heap)
{
    if (!nth_heap_handle_ok(heap) || heap == nth_heap_registry.process_heap) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return false;
    }
    atomic_fetch_add_explicit(&nth_heap_destroys, 1, memory_order_acq_rel); /* before it goes (walk.c) */
    if (NTH_VIS_ON()) nth_vis_heap_destroying(heap); /* memcheck: its blocks die with it */
    registry_remove(heap);
    nth_debug_heap_destroyed(heap);
    nth_tags_heap_destroyed(heap);
    nth_lfh_destroy(heap);
    heap->magic = 0;
    nth_heap_lock_internal(heap); /* for the *_locked teardown's precondition */
    nth_big_release_all(heap);
    nth_heap_unlock_internal(heap);
    nth_segment_release_all(heap);
    return true;
}

size_t nth_heap_list(nth_heap **out, size_t capacity)
{
    nth_process_heap();
    if (!out) capacity = 0; /* the count alone */
    nth_mutex_lock(&registry_lock, NTH_RANK_REGISTRY);
    size_t n = 0;
    for (nth_heap *heap = nth_heap_registry.first_heap; heap; heap = heap->next_heap, n++)
        if (n < capacity) out[n] = heap;
    nth_mutex_unlock(&registry_lock, NTH_RANK_REGISTRY);
    return n;
}

void nth_heap_lock_internal(nth_heap *heap)
{
    if (!(heap->flags & NTH_NO_SERIALIZE))
        nth_lock_acquire(&heap->lock);
    else
        nth_lock_bypass(&heap->lock);
}

void nth_heap_unlock_internal(nth_heap *heap)
{
    if (!(heap->flags & NTH_NO_SERIALIZE)) nth_lock_release(&heap->lock);
}

/* True when the heap can be locked by its user; else sets the error. */
static bool user_lockable(const nth_heap *heap)
{
    if (!nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return false;
    }
    if (heap->flags & NTH_NO_SERIALIZE) {
        nth_set_last_error(NTH_ERR_NOT_SUPPORTED);
        return false;
    }
    return true;
}

bool nth_heap_lock(nth_heap *heap)
{
    if (!user_lockable(heap)) return false;
    nth_lock_acquire(&heap->lock);
    if (heap->lock.user_depth++ == 0) nth_lfh_pause(heap);
    return true;
}

bool nth_heap_unlock(nth_heap *heap)
{
    if (!user_lockable(heap)) return false;
    if (!nth_lock_held_by_me(&heap->lock) || heap->lock.user_depth == 0) {
        nth_set_last_error(NTH_ERR_NOT_LOCKED);
        return false;
    }
    if (--heap->lock.user_depth == 0) nth_lfh_resume(heap);
    nth_lock_release(&heap->lock);
    return true;
}

/* ------------------------------------------------------------------------------- options */

static pthread_once_t exit_validator_once = PTHREAD_ONCE_INIT;

/* At exit, when validate_at_exit is (still) on: validates every heap of the registry. */
static void validate_all_at_exit(void)
{
    if (!nth_process_defaults.validate_at_exit) return;
    size_t heaps = 0, bad = 0;
    nth_mutex_lock(&registry_lock, NTH_RANK_REGISTRY);
    for (nth_heap *heap = nth_heap_registry.first_heap; heap; heap = heap->next_heap, heaps++)
        if (!nth_heap_validate(heap, 0, NULL)) bad++;
    nth_mutex_unlock(&registry_lock, NTH_RANK_REGISTRY);
    if (bad) fprintf(stderr, "ntheap: %zu of %zu heaps failed validation at exit\n", bad, heaps);
}

static void register_exit_validator(void)
{
    atexit(validate_all_at_exit);
}

static void arm_exit_validator(void)
{
    pthread_once(&exit_validator_once, register_exit_validator);
}

/* The target of an option call: NULL (the process defaults) or a live heap. */
static bool option_target(nth_heap *heap)
{
    if (heap && !nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return false;
    }
    nth_options_load();
    return true;
}

static bool option_in_range(size_t value, size_t min, size_t max)
{
    return value >= min && value <= max;
}

/* The LFH switch of one heap: a disabled LFH is a permanently paused one, so the fast paths fall
 * back to the back-end. Unserialized heaps and heaps with a debug mode have no LFH. */
static bool set_front_end(nth_heap *heap, bool on)
{
    if (on && ((heap->flags & NTH_NO_SERIALIZE) || heap->debug_modes)) { /* debug heaps: no LFH */
        nth_set_last_error(NTH_ERR_NOT_SUPPORTED);
        return false;
    }
    nth_lock_acquire(&heap->lock);
    if (heap->lfh_enabled && !on) nth_lfh_pause(heap);
    if (!heap->lfh_enabled && on) nth_lfh_resume(heap);
    heap->lfh_enabled = on;
    nth_lock_release(&heap->lock);
    return true;
}

/* How each scope of options.def reads and writes a heap's value. */
#define OPTION_PER_HEAP_HEAP 1
#define OPTION_PER_HEAP_ALL_HEAPS 1
#define OPTION_PER_HEAP_FRONT_END 1
#define OPTION_PER_HEAP_PROCESS 0
#define OPTION_READ_HEAP(heap, field) ((size_t)(heap)->field)
#define OPTION_READ_ALL_HEAPS OPTION_READ_HEAP
#define OPTION_READ_FRONT_END OPTION_READ_HEAP
#define OPTION_READ_PROCESS(heap, field) ((size_t)0)

static bool set_heap_field_done(nth_heap *heap)
{
    nth_heap_unlock_internal(heap);
    return true;
}
#define OPTION_WRITE_HEAP(heap, field, type, value) \
    (nth_heap_lock_internal(heap), (heap)->field = (type)(value), set_heap_field_done(heap))
#define OPTION_WRITE_ALL_HEAPS OPTION_WRITE_HEAP
#define OPTION_WRITE_FRONT_END(heap, field, type, value) set_front_end(heap, (value) != 0)
#define OPTION_WRITE_PROCESS(heap, field, type, value) (nth_set_last_error(NTH_ERR_NOT_SUPPORTED), false)

/* After a process default changed: ALL_HEAPS options reach every live heap (the registry is
 * walked under its lock, so no heap is skipped); PROCESS options may need the exit validator. */
#define OPTION_SPREAD_HEAP(field, type, value) ((void)0)
#define OPTION_SPREAD_FRONT_END OPTION_SPREAD_HEAP
#define OPTION_SPREAD_PROCESS(field, type, value) \
    (nth_tags_options_changed(), nth_process_defaults.validate_at_exit ? arm_exit_validator() : (void)0)
#define OPTION_SPREAD_ALL_HEAPS(field, type, value)                                                           \
    do {                                                                                                    \
        nth_mutex_lock(&registry_lock, NTH_RANK_REGISTRY);                                                                 \
        for (nth_heap *h = nth_heap_registry.first_heap; h; h = h->next_heap) h->field = (type)(value);     \
        nth_mutex_unlock(&registry_lock, NTH_RANK_REGISTRY);                                                               \
    } while (0)

bool nth_heap_set_option(nth_heap *heap, nth_heap_option option, size_t value)
{
    if (!option_target(heap)) return false;
    switch (option) {
#define NTH_OPTION_ROW(name, id, type, default_value, min, max, scope, field, doc)                            \
    case NTH_OPTION_##id:                                                                                   \
        if (!option_in_range(value, (size_t)(min), (size_t)(max))) break;                                   \
        if (heap) return OPTION_WRITE_##scope(heap, field, type, value);                                    \
        nth_process_defaults.name = (type)value;                                                            \
        OPTION_SPREAD_##scope(field, type, value);                                                          \
        return true;
#include "heap/options.def"
    }
    nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
    return false;
}

bool nth_heap_get_option(nth_heap *heap, nth_heap_option option, size_t *value)
{
    if (!option_target(heap)) return false;
    if (!value) {
        nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
        return false;
    }
    switch (option) {
#define NTH_OPTION_ROW(name, id, type, default_value, min, max, scope, field, doc)                            \
    case NTH_OPTION_##id:                                                                                   \
        *value = heap && OPTION_PER_HEAP_##scope ? OPTION_READ_##scope(heap, field)                          \
                                                 : (size_t)nth_process_defaults.name;                       \
        return true;
#include "heap/options.def"
    }
    nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
    return false;
}
