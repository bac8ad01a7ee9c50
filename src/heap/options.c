/*
 * options.c — heap options: the process-wide defaults, read once from the NTHEAP_OPTIONS
 * environment variable, and the per-heap setters and getters.
 *
 *   NTHEAP_OPTIONS="terminate_on_corruption=1,lfh=0,validate_at_exit=1"
 *
 * | option                   | default   | meaning                                              |
 * |--------------------------|-----------|------------------------------------------------------|
 * | terminate_on_corruption  | 0         | abort with the report on any detected corruption     |
 * | lfh                      | 1         | Low Fragmentation Heap front-end on new heaps        |
 * | decommit_free_block      | 262144    | free blocks at least this big are decommitted ...    |
 * | decommit_total_free      | 8388608   | ... once the heap holds more free bytes than this    |
 * | validate_at_exit         | 0         | validate every heap at exit; report problems         |
 *
 * Unknown names and malformed values are reported once on stderr and ignored. The variable is
 * ignored in set-user-ID programs (secure_getenv).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "heap/internal.h"
#include "heap/lfh.h"

nth_defaults nth_process_defaults = {
    .terminate_on_corruption = false,
    .lfh = true,
    .decommit_free_block = (size_t)256 << 10,
    .decommit_total_free = (size_t)8 << 20,
    .validate_at_exit = false,
};

static pthread_once_t options_once = PTHREAD_ONCE_INIT;

static void validate_all_at_exit(void)
{
    nth_heap *heaps[256];
    size_t n = nth_heap_list(heaps, 256);
    size_t bad = 0;
    for (size_t i = 0; i < n && i < 256; i++)
        if (!nth_heap_validate(heaps[i], 0, NULL)) bad++;
    if (bad) fprintf(stderr, "ntheap: %zu of %zu heaps failed validation at exit\n", bad, n);
}

static void parse_option(const char *name, size_t name_len, const char *value)
{
    char *end;
    unsigned long long v = strtoull(value, &end, 0);
    if (end == value || (*end && *end != ',')) {
        fprintf(stderr, "ntheap: NTHEAP_OPTIONS: bad value for %.*s\n", (int)name_len, name);
        return;
    }
#define IS(opt) (name_len == sizeof(opt) - 1 && memcmp(name, opt, name_len) == 0)
    if (IS("terminate_on_corruption"))
        nth_process_defaults.terminate_on_corruption = v != 0;
    else if (IS("lfh"))
        nth_process_defaults.lfh = v != 0;
    else if (IS("decommit_free_block"))
        nth_process_defaults.decommit_free_block = (size_t)v;
    else if (IS("decommit_total_free"))
        nth_process_defaults.decommit_total_free = (size_t)v;
    else if (IS("validate_at_exit"))
        nth_process_defaults.validate_at_exit = v != 0;
    else
        fprintf(stderr, "ntheap: NTHEAP_OPTIONS: unknown option %.*s\n", (int)name_len, name);
#undef IS
}

static void load_once(void)
{
    const char *text = secure_getenv("NTHEAP_OPTIONS");
    while (text && *text) {
        const char *eq = strchr(text, '='), *comma = strchr(text, ',');
        if (!eq || (comma && comma < eq)) {
            fprintf(stderr, "ntheap: NTHEAP_OPTIONS: expected name=value near \"%s\"\n", text);
            break;
        }
        parse_option(text, (size_t)(eq - text), eq + 1);
        if (!comma) break;
        text = comma + 1;
    }
    if (nth_process_defaults.validate_at_exit) atexit(validate_all_at_exit);
}

void nth_options_load(void)
{
    pthread_once(&options_once, load_once);
}

static bool option_target(nth_heap *heap)
{
    if (heap && !nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return false;
    }
    nth_options_load();
    return true;
}

bool nth_heap_set_option(nth_heap *heap, nth_heap_option option, size_t value)
{
    if (!option_target(heap)) return false;
    switch (option) {
    case NTH_OPTION_TERMINATE_ON_CORRUPTION:
        if (!heap) {
            /* As HeapSetInformation(NULL, HeapEnableTerminationOnCorruption): every heap, from now on. */
            nth_process_defaults.terminate_on_corruption = value != 0;
            nth_heap *heaps[256];
            size_t n = nth_heap_list(heaps, 256);
            for (size_t i = 0; i < n && i < 256; i++) heaps[i]->terminate_on_corruption = value != 0;
        } else {
            heap->terminate_on_corruption = value != 0;
        }
        return true;
    case NTH_OPTION_LFH:
        if (!heap) {
            nth_process_defaults.lfh = value != 0;
            return true;
        }
        if (value && (heap->flags & NTH_NO_SERIALIZE)) {
            nth_set_last_error(NTH_ERR_NOT_SUPPORTED);
            return false;
        }
        nth_lock_acquire(&heap->lock);
        /* A disabled LFH is a permanently paused one: fast paths fall back to the back-end. */
        if (heap->lfh_enabled && !value) nth_lfh_pause(heap);
        if (!heap->lfh_enabled && value) nth_lfh_resume(heap);
        heap->lfh_enabled = value != 0;
        nth_lock_release(&heap->lock);
        return true;
    case NTH_OPTION_DECOMMIT_FREE_BLOCK:
    case NTH_OPTION_DECOMMIT_TOTAL_FREE: {
        size_t *field = !heap ? (option == NTH_OPTION_DECOMMIT_FREE_BLOCK ? &nth_process_defaults.decommit_free_block
                                                                          : &nth_process_defaults.decommit_total_free)
                              : (option == NTH_OPTION_DECOMMIT_FREE_BLOCK ? &heap->decommit_free_block
                                                                          : &heap->decommit_total_free);
        if (heap) nth_lock_acquire(&heap->lock);
        *field = value;
        if (heap) nth_lock_release(&heap->lock);
        return true;
    }
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
    const nth_defaults *d = &nth_process_defaults;
    switch (option) {
    case NTH_OPTION_TERMINATE_ON_CORRUPTION:
        *value = heap ? heap->terminate_on_corruption : d->terminate_on_corruption;
        return true;
    case NTH_OPTION_LFH:
        *value = heap ? heap->lfh_enabled : d->lfh;
        return true;
    case NTH_OPTION_DECOMMIT_FREE_BLOCK:
        *value = heap ? heap->decommit_free_block : d->decommit_free_block;
        return true;
    case NTH_OPTION_DECOMMIT_TOTAL_FREE:
        *value = heap ? heap->decommit_total_free : d->decommit_total_free;
        return true;
    }
    nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
    return false;
}
