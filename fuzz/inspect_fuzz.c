/*
 * inspect_fuzz.c — fuzz target of the heap inspector: the input is a memory image (the heap
 * bytes a core file would hold) and every view of `ntheap heap`, `ntheap address`, the heap map
 * and `dt` runs over it, as over a live process or a core. Whatever the bytes say, a view must
 * end, without a fault, after a number of reads proportional to the input.
 *
 *   offset  size
 *        0     1  options: bit 0 JSON output (else text)
 *        1     1  segment count
 *        2     1  heap count (taken modulo 9)
 *        3     5  (zero)
 *        8     8  probe address: the ADDR of -i, -x and dt
 *       16  8*nh  heap addresses, the target's heap list
 *          16*ns  segments: {u64 start; u32 length; u32 zero}
 *          ....   the segments' bytes, one after the other (a short input cuts the last ones)
 *
 * Each segment is memory [start, start + length) of the target, readable and writable (the
 * leak scan's roots). tests/inspect/test_inspect_fuzz.c writes seed images of real heaps and
 * runs this target over them and over thousands of mutations (make check); `make fuzz-inspect`
 * builds it with clang's libFuzzer. inspect_fuzz_reads counts the reads of the last input,
 * inspect_fuzz_problems the problems its views reported.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_heap.h"
#include "inspect/dt.h"
#include "inspect/map_svg.h"
#include "inspect/target_internal.h"

#define IMAGE_HEADER 16
#define IMAGE_MAX_SEGMENTS 255
#define IMAGE_MAX_HEAPS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

uint64_t inspect_fuzz_reads;    /* reads through the seam during the last input */
uint64_t inspect_fuzz_problems; /* problems the views reported for it */

static bool (*image_read)(const nth_mem *mem, uintptr_t address, void *buffer, size_t length);

static bool counted_read(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    inspect_fuzz_reads++;
    return image_read(mem, address, buffer, length);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Runs one view with output to `sink`; the view's own checks are all the result there is. */
static void view(heap_cli *c, FILE *sink, bool json, int (*fn)(heap_cli *))
{
    heap_cli run = *c;
    emit_begin(&run.e, sink, json);
    (void)fn(&run);
    emit_end(&run.e);
    inspect_fuzz_problems += run.problems;
}

static void run_views(nth_target *t, FILE *sink, bool json, uintptr_t probe)
{
    heap_cli c;
    memset(&c, 0, sizeof c);
    c.target = t;
    c.address = probe;
    c.max_size = UINT64_MAX;
    view(&c, sink, json, heap_view_list);
    view(&c, sink, json, heap_view_summary);
    view(&c, sink, json, heap_view_entries);
    c.lfh_blocks = true;
    view(&c, sink, json, heap_view_entries);
    c.lfh_blocks = false;
    view(&c, sink, json, heap_view_block);
    view(&c, sink, json, heap_view_containing);
    view(&c, sink, json, heap_view_stat);
    view(&c, sink, json, heap_view_filter);
    view(&c, sink, json, heap_view_leaks);
    view(&c, sink, json, heap_view_address);
    for (size_t i = 0; i < nth_target_heap_count(t); i++) {
        c.heap_arg = nth_target_heap_address(t, i);
        view(&c, sink, json, heap_view_summary); /* -s HEAP */
        nth_map_counts counts;
        char error[256];
        (void)nth_map_svg(sink, nth_target_mem(t), c.heap_arg, "fuzz", NULL, &counts, error, sizeof error);
        /* seek to each of the first entries of a walk, as -i and the map do */
        nth_iter it, at;
        nth_walk_entry e, next;
        if (nth_iter_open(&it, nth_target_mem(t), c.heap_arg))
            for (int n = 0; n < 64 && nth_iter_next(&it, &e); n++)
                if (nth_iter_open(&at, nth_target_mem(t), c.heap_arg) && nth_iter_seek(&at, &e))
                    (void)nth_iter_next(&at, &next);
    }
    size_t n_types;
    const nth_dt_type *types = nth_dt_types(&n_types);
    for (size_t i = 0; i < n_types; i++) {
        uint32_t found;
        (void)nth_dt_check(&types[i], nth_target_mem(t), probe, &found);
        for (size_t f = 0; f < types[i].n_fields; f++) {
            uint64_t v;
            (void)nth_dt_value(&types[i].fields[f], nth_target_mem(t), probe, &v);
        }
    }
}

/* The target an input describes (reads counted), or NULL when it is too short to say. */
static nth_target *open_input(const uint8_t *data, size_t size, uintptr_t *probe_out)
{
    if (size < IMAGE_HEADER) return NULL;
    size_t ns = data[1], nh = data[2] % (IMAGE_MAX_HEAPS + 1);
    uintptr_t probe = (uintptr_t)le64(data + 8);
    size_t at = IMAGE_HEADER;
    if (size - at < nh * 8 + ns * 16) return NULL;
    uintptr_t heaps[IMAGE_MAX_HEAPS];
    for (size_t i = 0; i < nh; i++, at += 8) heaps[i] = (uintptr_t)le64(data + at);
    nth_core_segment segs[IMAGE_MAX_SEGMENTS];
    size_t bytes_at = at + ns * 16;
    for (size_t i = 0; i < ns; i++, at += 16) {
        uint64_t start = le64(data + at), length = le32(data + at + 8);
        uint64_t available = size - bytes_at;
        if (length > available) length = available;
        if (start + length < start) length = 0; /* wraps: an empty segment */
        segs[i] = (nth_core_segment){(uintptr_t)start, (uintptr_t)(start + length), bytes_at, length};
        bytes_at += length;
    }
    char error[256];
    nth_target *t = nth_target_open_image(data, size, segs, ns, heaps, nh, error, sizeof error);
    if (!t) return NULL;
    image_read = t->mem.read;
    t->mem.read = counted_read;
    *probe_out = probe;
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink && !(sink = fopen("/dev/null", "w"))) return 0;
    inspect_fuzz_reads = 0;
    inspect_fuzz_problems = 0;
    uintptr_t probe;
    nth_target *t = open_input(data, size, &probe);
    if (!t) return 0;
    run_views(t, sink, data[0] & 1, probe);
    nth_target_close(t);
    return 0;
}
