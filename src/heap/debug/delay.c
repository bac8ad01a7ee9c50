/*
 * delay.c — the delayed-free queue of the page heap: freed blocks held back from reuse, oldest
 * first out, so a use after free touches memory nobody else owns yet.
 *
 *   ring[capacity]   head ─► oldest ... newest      capacity = page_heap_delay (0: no delay)
 *
 *   full page heap   the block's mapping, made inaccessible (a touch faults: fault.c), detached
 *                    from its heap; leaving the queue releases the mapping
 *   light page heap  the block stays busy in its heap, filled with 0xFEEEFEEE; leaving the queue
 *                    checks the fill (a write after free is reported, with the block's stacks)
 *                    and frees the block in the engine
 *
 * Invariants: one mutex guards the ring, never held while a heap lock is taken (evictions run
 * after it is released); the fault handler reads the ring without the mutex (it only reads, and
 * the process is going down).
 */
#include <pthread.h>
#include <unistd.h>

#include "heap/debug/debug.h"
#include "heap/vm.h"

static nth_delay_queue queue = {.magic = NTH_DELAY_QUEUE_MAGIC}; /* nth_heap_registry.delayed */
static pthread_mutex_t delay_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t delay_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { pthread_mutex_lock(&delay_lock); }
static void fork_release(void) { pthread_mutex_unlock(&delay_lock); }

static void create_ring(void)
{
    size_t want = nth_process_defaults.page_heap_delay;
    if (want) queue.ring = nth_vm_map_private(want * sizeof *queue.ring);
    queue.capacity = queue.ring ? want : 0;
    nth_heap_registry.delayed = &queue;
    pthread_atfork(fork_prepare, fork_release, fork_release);
}

/* The block leaves the queue for good. */
static void evict(const nth_delayed *b)
{
    if (b->base) {
        nth_vm_release(b->base, b->bytes);
        return;
    }
    const unsigned char *bad = nth_debug_check32(b->data, b->size, NTH_FILL_FREE);
    if (bad) {
        nth_report_problem(b->heap, NTH_ERR_CORRUPT, bad, "the free fill 0xFEEEFEEE of a freed block",
                           "a modified byte (written after free)");
        nth_delay_print_stacks(b);
    }
    (void)nth_api_free(b->heap, 0, b->data);
}

void nth_delay_print_stacks(const nth_delayed *b)
{
    if (!nth_report_goes_to_stderr()) return;
    nth_debug_write(STDERR_FILENO, "ntheap: block %p (%zu bytes) was allocated at:\n", (void *)b->data, b->size);
    nth_trace_print(STDERR_FILENO, b->alloc_stack);
    nth_debug_write(STDERR_FILENO, "  and freed at:\n");
    nth_trace_print(STDERR_FILENO, b->free_stack);
}

void nth_delay_push(const nth_delayed *block)
{
    pthread_once(&delay_once, create_ring);
    nth_delayed out = *block;
    bool leaves = true;
    pthread_mutex_lock(&delay_lock);
    if (queue.capacity) {
        nth_delayed in = *block;
        size_t at = (queue.head + queue.count) % queue.capacity;
        if (queue.count == queue.capacity) {
            out = queue.ring[queue.head];
            queue.head = (queue.head + 1) % queue.capacity;
            at = (queue.head + queue.count - 1) % queue.capacity;
        } else {
            queue.count++;
            leaves = false;
        }
        queue.ring[at] = in;
    }
    pthread_mutex_unlock(&delay_lock);
    if (leaves) evict(&out);
}

bool nth_delay_find(const void *ptr, bool containing, bool locked, nth_delayed *out)
{
    if (!queue.ring) return false;
    if (locked) pthread_mutex_lock(&delay_lock);
    bool found = false;
    uintptr_t p = (uintptr_t)ptr;
    for (size_t k = 0; k < queue.count && !found; k++) {
        const nth_delayed *b = &queue.ring[(queue.head + queue.count - 1 - k) % queue.capacity]; /* newest first */
        bool hit = (uintptr_t)b->data == p;
        if (!hit && containing)
            hit = b->base ? p - (uintptr_t)b->base < b->bytes : p - (uintptr_t)b->data < b->size;
        if (hit) {
            *out = *b;
            found = true;
        }
    }
    if (locked) pthread_mutex_unlock(&delay_lock);
    return found;
}

void nth_delay_survey(const nth_heap *heap, bool check_fill, nth_delay_held *out)
{
    memset(out, 0, sizeof *out);
    if (!queue.ring) return;
    pthread_mutex_lock(&delay_lock);
    for (size_t k = 0; k < queue.count; k++) {
        const nth_delayed *b = &queue.ring[(queue.head + k) % queue.capacity];
        if (b->heap != heap || b->base) continue; /* full page heap: detached from its heap */
        out->blocks++;
        out->bytes += b->size;
        const unsigned char *bad = check_fill && !out->damaged ? nth_debug_check32(b->data, b->size, NTH_FILL_FREE) : NULL;
        if (bad) {
            out->damaged = bad;
            out->damaged_block = *b;
        }
    }
    pthread_mutex_unlock(&delay_lock);
}

void nth_delay_drop_heap(nth_heap *heap)
{
    if (!queue.ring) return;
    pthread_mutex_lock(&delay_lock);
    size_t kept = 0;
    for (size_t k = 0; k < queue.count; k++) {
        nth_delayed b = queue.ring[(queue.head + k) % queue.capacity];
        if (b.heap == heap) {
            if (b.base) nth_vm_release(b.base, b.bytes);
            continue; /* light: the block goes with its heap */
        }
        queue.ring[(queue.head + kept) % queue.capacity] = b;
        kept++;
    }
    queue.count = kept;
    pthread_mutex_unlock(&delay_lock);
}
