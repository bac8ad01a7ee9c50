/*
 * map_svg.h — a picture of one heap: a standalone SVG document drawn from the one traversal
 * (src/heap/iter.h) over any read seam, so it serves this process, a live process and a core
 * file alike.
 *
 *   title, heap address, time, counts, legend
 *   Segment 00 at B (reserve, committed; one row = R bytes)
 *   |hdr|busy|busy|free|internal (LFH area)|busy| ....... uncommitted ........|   rows of R bytes,
 *   |.............................. uncommitted ..............................|   to scale
 *     LFH subsegment at A: n slots of s bytes      [#][#][ ][#][.][.][.] ...     one cell a slot
 *   Segment 01 ...
 *   Big blocks                                   [=========]  [====]              to one scale
 *
 * Every walked entry is exactly one element whose class names its kind (segment, busy, free,
 * internal, damaged, uncommitted, lfh-busy, big); the grid's other cells are lfh-free (handed
 * out before, now free) and lfh-untouched (never handed out); each segment's header block is
 * one header element. Legend swatches use key-* classes, so counting elements by class counts
 * the heap, nothing else.
 */
#ifndef NTH_MAP_SVG_H
#define NTH_MAP_SVG_H

#include <stdio.h>

#include "heap/iter.h"

/* What the picture holds, by class. */
typedef struct nth_map_counts {
    size_t segments;       /* class segment (and header, one each) */
    size_t busy;           /* busy back-end blocks that are not internal */
    size_t free;           /* free back-end blocks in service */
    size_t damaged;        /* free blocks taken out of service */
    size_t internal;       /* blocks the heap allocated for itself (LFH user areas among them) */
    size_t uncommitted;    /* uncommitted ranges */
    size_t lfh_subsegments;
    size_t lfh_busy;       /* live LFH blocks */
    size_t lfh_free;       /* LFH slots handed out before and free now */
    size_t lfh_untouched;  /* LFH slots never handed out */
    size_t big;            /* big blocks */
    uint32_t problems;     /* damage the traversal met (each reported in the picture) */
} nth_map_counts;

/* Draws the heap at `heap_address`, read through `mem`, as an SVG document on `out`. `title`
 * and `when` (the time the heap was read, as text) head the picture; either may be NULL.
 * `counts` (optional) receives what was drawn. False with a one-line reason in `error` when
 * the address is not a heap of this layout, memory runs out or `out` fails; a heap damaged
 * past some point is drawn up to there and its problems listed, and the call succeeds. */
bool nth_map_svg(FILE *out, const nth_mem *mem, uintptr_t heap_address, const char *title, const char *when,
                 nth_map_counts *counts, char *error, size_t error_size);

#endif
