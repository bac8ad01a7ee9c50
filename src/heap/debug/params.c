/*
 * params.c — which debug modes a new heap gets, and what arming them takes.
 *
 *   NTHEAP_OPTIONS / nth_heap_set_option(NULL, ...)      (options.def, process-wide)
 *        │ read when a heap is created
 *        ▼
 *   nth_debug_heap_flags()    debug_fill ──► HEAP_TAIL_CHECKING | HEAP_FREE_CHECKING
 *   nth_debug_heap_created()  heap->debug_modes; LFH off; fault handler (full page heap);
 *                             stack-trace database primed (stack_traces, leak_report);
 *                             exit report armed (leak_report)
 *
 * Invariants: heap->debug_modes is written once, before the heap is on the registry; a heap
 * with any mode has lfh_enabled false and its LFH paused for good; nth_debug_any is set before
 * the first heap with a mode is handed out and never cleared.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "heap/debug/debug.h"

atomic_bool nth_debug_any;

uint32_t nth_debug_heap_flags(void)
{
    return nth_process_defaults.debug_fill ? NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED : 0;
}

static uint8_t modes_from_options(void)
{
    const nth_defaults *o = &nth_process_defaults;
    uint8_t modes = 0;
    if (o->debug_fill) modes |= NTH_DEBUG_FILL;
    if (o->parameter_checking) modes |= NTH_DEBUG_PARAMS;
    if (o->page_heap == 1) modes |= NTH_DEBUG_PAGE_FULL;
    if (o->page_heap == 2) modes |= NTH_DEBUG_PAGE_LIGHT;
    if (o->page_heap == 1 && o->page_heap_align_start) modes |= NTH_DEBUG_ALIGN_START;
    if (o->stack_traces || o->leak_report) modes |= NTH_DEBUG_TRACES;
    return modes;
}

void nth_debug_heap_created(nth_heap *heap)
{
    uint8_t modes = modes_from_options();
    if (!modes) return;
    heap->debug_modes = modes;
    if (heap->lfh_enabled) {
        heap->lfh_enabled = false;
        atomic_store(&heap->lfh_paused, 1);
    }
    if (modes & NTH_DEBUG_TRACES) nth_trace_init();
    if (modes & NTH_DEBUG_PAGE_FULL) nth_fault_install();
    if (nth_process_defaults.leak_report) nth_leaks_arm();
    atomic_store(&nth_debug_any, true);
}

void nth_debug_heap_destroyed(nth_heap *heap)
{
    if (heap->debug_modes & (NTH_DEBUG_PAGE_FULL | NTH_DEBUG_PAGE_LIGHT)) nth_delay_drop_heap(heap);
}

void nth_debug_write(int fd, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, line + done, len - done);
        if (w <= 0) return;
        done += (size_t)w;
    }
}
