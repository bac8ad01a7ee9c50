/*
 * map_svg.c — the heap map (see map_svg.h): one traversal collects the entries, then the
 * picture is laid out twice, once to measure its height and once to draw it.
 *
 * Geometry. A segment is drawn as rows of `row_bytes` each, BAND_WIDTH pixels wide, so every
 * byte of its reservation has a place and the picture is to scale within the segment;
 * row_bytes starts at 16 KiB and doubles until the segment needs at most MAX_ROWS rows. A range
 * of bytes becomes one path of one rectangle per row it touches. An LFH subsegment is a grid of
 * GRID_COLUMNS cells per row, one cell per slot, below its segment. Big blocks share one scale,
 * the largest BIG_WIDTH pixels wide.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/map_svg.h"

enum {
    MARGIN = 16,
    BAND_WIDTH = 1024,
    PICTURE_WIDTH = BAND_WIDTH + 2 * MARGIN,
    ROW_HEIGHT = 14,
    ROW_STEP = 16,
    MAX_ROWS = 48,
    GRID_COLUMNS = 64,
    CELL = 14,
    CELL_STEP = 16,
    BIG_WIDTH = 720,
    LINE = 18,
};

#define MIN_ROW_BYTES ((size_t)16 << 10)

/* An LFH subsegment as the traversal read it, with the slots it found busy. */
typedef struct map_sub {
    size_t segment;          /* index of the segment it lies in, in walk order */
    uintptr_t first_block;
    uint32_t n_blocks, block_size, bump, bucket;
    uint32_t *busy_size;     /* per slot: requested bytes + 1 when busy, else 0 */
} map_sub;

typedef struct map_data {
    nth_walk_entry *entries; /* every entry but the LFH blocks (those are in the subsegments) */
    size_t n, cap;
    map_sub *subs;
    size_t n_subs, cap_subs;
    size_t segments;
    nth_iter_problem problem;
    uint32_t problems;
} map_data;

static bool grow(void **array, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap) return true;
    size_t next = *cap ? *cap * 2 : 64;
    while (next < need) next *= 2;
    void *p = realloc(*array, next * item);
    if (!p) return false;
    *array = p;
    *cap = next;
    return true;
}

static void release(map_data *d)
{
    for (size_t i = 0; i < d->n_subs; i++) free(d->subs[i].busy_size);
    free(d->subs);
    free(d->entries);
}

/* Walks the heap into `d`; false when memory runs out. */
static bool collect(nth_iter *it, map_data *d, nth_map_counts *c)
{
    nth_walk_entry e;
    map_sub *sub = NULL;
    while (nth_iter_next(it, &e)) {
        if (e.flags & NTH_ENTRY_LFH) {
            if (!sub) continue; /* cannot happen: LFH blocks follow their subsegment */
            size_t slot = ((uintptr_t)e.data - sub->first_block) / sub->block_size;
            if (slot < sub->n_blocks && !sub->busy_size[slot]) {
                sub->busy_size[slot] = (uint32_t)e.size + 1;
                c->lfh_busy++;
            }
            continue;
        }
        if (!grow((void **)&d->entries, &d->cap, d->n + 1, sizeof e)) return false;
        d->entries[d->n++] = e;
        sub = NULL;
        if (e.flags & NTH_ENTRY_REGION) {
            d->segments++;
            c->segments++;
        } else if (e.flags & NTH_ENTRY_UNCOMMITTED) {
            c->uncommitted++;
        } else if (e.flags & NTH_ENTRY_BIG) {
            c->big++;
        } else if (!(e.flags & NTH_ENTRY_BUSY)) {
            if (e.flags & NTH_ENTRY_DAMAGED) c->damaged++;
            else c->free++;
        } else if (e.flags & NTH_ENTRY_INTERNAL) {
            c->internal++;
        } else {
            c->busy++;
        }
        if (it->phase == NTH_ITER_LFH) { /* the block just returned is a subsegment's user area */
            if (!grow((void **)&d->subs, &d->cap_subs, d->n_subs + 1, sizeof *d->subs)) return false;
            sub = &d->subs[d->n_subs];
            *sub = (map_sub){d->segments - 1, (uintptr_t)it->sub.first_block, it->sub.n_blocks,
                             it->sub.block_size, it->sub.bump, it->sub.bucket, NULL};
            sub->busy_size = calloc(sub->n_blocks ? sub->n_blocks : 1, sizeof *sub->busy_size);
            if (!sub->busy_size) return false;
            d->n_subs++;
            c->lfh_subsegments++;
        }
    }
    for (size_t i = 0; i < d->n_subs; i++) {
        const map_sub *s = &d->subs[i];
        for (uint32_t k = 0; k < s->n_blocks; k++) {
            if (s->busy_size[k]) continue;
            if (k < s->bump) c->lfh_free++;
            else c->lfh_untouched++;
        }
    }
    d->problems = it->problems;
    d->problem = it->problem;
    c->problems = it->problems;
    return true;
}

/* ------------------------------------------------------------------------------- drawing */

typedef struct canvas {
    FILE *out;
    bool draw; /* false: only measure */
    double y;
} canvas;

static void text_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            /* control characters are not allowed in XML 1.0 text */
            fputc((unsigned char)*s < 0x20 && *s != '\t' ? '?' : *s, out);
        }
    }
}

/* A line of text at the canvas position, then the position moves down. */
static void line(canvas *cv, const char *cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(canvas *cv, const char *cls, const char *fmt, ...)
{
    cv->y += LINE;
    if (!cv->draw) return;
    char buffer[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, args);
    va_end(args);
    fprintf(cv->out, "<text class=\"%s\" x=\"%d\" y=\"%.0f\">", cls, MARGIN, cv->y - 5);
    text_escaped(cv->out, buffer);
    fputs("</text>\n", cv->out);
}

/* d="..." of the rows that bytes [start, end) of a band occupy. */
static void range_path(FILE *out, double top, size_t row_bytes, size_t start, size_t end)
{
    while (start < end) {
        size_t row = start / row_bytes, row_start = row * row_bytes;
        size_t stop = end < row_start + row_bytes ? end : row_start + row_bytes;
        double x = MARGIN + (double)(start - row_start) * BAND_WIDTH / (double)row_bytes;
        double w = (double)(stop - start) * BAND_WIDTH / (double)row_bytes;
        fprintf(out, "M%.2f %.0fh%.2fv%dh%.2fz", x, top + (double)row * ROW_STEP, w, ROW_HEIGHT, -w);
        start = stop;
    }
}

/* One element for a range of a segment's band. */
static void band_element(canvas *cv, const char *cls, double top, size_t row_bytes, size_t start, size_t end,
                         const char *tip)
{
    if (!cv->draw) return;
    fprintf(cv->out, "<path class=\"%s\" d=\"", cls);
    range_path(cv->out, top, row_bytes, start, end);
    fputs("\"><title>", cv->out);
    text_escaped(cv->out, tip);
    fputs("</title></path>\n", cv->out);
}

static size_t row_bytes_for(size_t reserve)
{
    size_t row = MIN_ROW_BYTES; /* rows = ceil(reserve / row), without overflow */
    while (reserve / row + (reserve % row != 0) > MAX_ROWS && row <= SIZE_MAX / 2) row *= 2;
    return row;
}

static void draw_grid(canvas *cv, const map_sub *s)
{
    line(cv, "label", "LFH subsegment at 0x%" PRIxPTR ": %" PRIu32 " slots of 0x%" PRIx32 " bytes (bucket %" PRIu32
                      "); slots from %" PRIu32 " on never handed out",
         s->first_block, s->n_blocks, s->block_size, s->bucket, s->bump);
    double top = cv->y;
    uint32_t rows = (s->n_blocks + GRID_COLUMNS - 1) / GRID_COLUMNS;
    cv->y += (double)rows * CELL_STEP + 6;
    if (!cv->draw) return;
    for (uint32_t k = 0; k < s->n_blocks; k++) {
        uintptr_t address = s->first_block + (uintptr_t)k * s->block_size;
        const char *cls = s->busy_size[k] ? "lfh-busy" : k < s->bump ? "lfh-free" : "lfh-untouched";
        fprintf(cv->out, "<rect class=\"%s\" x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%d\"><title>0x%" PRIxPTR, cls,
                MARGIN + (int)(k % GRID_COLUMNS) * CELL_STEP, top + (double)(k / GRID_COLUMNS) * CELL_STEP, CELL, CELL,
                address);
        if (s->busy_size[k])
            fprintf(cv->out, ": busy (0x%" PRIx32 " of 0x%" PRIx32 " bytes)", s->busy_size[k] - 1, s->block_size);
        else
            fputs(k < s->bump ? ": free" : ": never handed out", cv->out);
        fprintf(cv->out, ", slot %" PRIu32 "</title></rect>\n", k);
    }
}

/* Draws segment entries from d->entries[*at] (its REGION entry) to the next region. */
static void draw_segment(canvas *cv, const map_data *d, size_t *at, size_t segment)
{
    const nth_walk_entry *region = &d->entries[*at];
    uintptr_t base = (uintptr_t)region->data;
    size_t reserve = region->u.region.reserved, row_bytes = row_bytes_for(reserve);
    line(cv, "label",
         "Segment %02u at 0x%" PRIxPTR " to 0x%" PRIxPTR ": 0x%zx bytes committed, 0x%zx uncommitted; one row is %zu KiB",
         region->region_index, base, base + reserve, region->u.region.committed, region->u.region.uncommitted,
         row_bytes >> 10);
    double top = cv->y + 2;
    size_t rows = (reserve + row_bytes - 1) / row_bytes;
    char tip[160];
    snprintf(tip, sizeof tip, "segment %u: 0x%" PRIxPTR " - 0x%" PRIxPTR, region->region_index, base, base + reserve);
    band_element(cv, "segment", top, row_bytes, 0, reserve, tip);
    snprintf(tip, sizeof tip, "0x%" PRIxPTR ": segment header, 0x%zx bytes", base, region->size);
    band_element(cv, "header", top, row_bytes, 0, region->size < reserve ? region->size : reserve, tip);
    size_t i = *at + 1;
    for (; i < d->n && !(d->entries[i].flags & (NTH_ENTRY_REGION | NTH_ENTRY_BIG)); i++) {
        const nth_walk_entry *e = &d->entries[i];
        uintptr_t start, end;
        const char *cls;
        if (e->flags & NTH_ENTRY_UNCOMMITTED) {
            start = (uintptr_t)e->data;
            end = start + e->size;
            cls = "uncommitted";
            snprintf(tip, sizeof tip, "0x%" PRIxPTR ": 0x%zx uncommitted bytes", start, e->size);
        } else {
            start = (uintptr_t)e->u.block.header;
            end = start + e->u.block.block_size;
            bool busy = e->flags & NTH_ENTRY_BUSY;
            cls = !busy ? (e->flags & NTH_ENTRY_DAMAGED ? "damaged" : "free")
                        : e->flags & NTH_ENTRY_INTERNAL ? "internal" : "busy";
            snprintf(tip, sizeof tip, "0x%" PRIxPTR ": %s, 0x%zx bytes (block 0x%zx)", (uintptr_t)e->data,
                     !busy ? (e->flags & NTH_ENTRY_DAMAGED ? "free, out of service" : "free")
                     : e->flags & NTH_ENTRY_INTERNAL ? "busy, internal" : "busy",
                     e->size, e->u.block.block_size);
        }
        if (start < base || end > base + reserve || end < start) continue; /* not of this band */
        band_element(cv, cls, top, row_bytes, start - base, end - base, tip);
    }
    cv->y = top + (double)rows * ROW_STEP + 4;
    for (size_t k = 0; k < d->n_subs; k++)
        if (d->subs[k].segment == segment) draw_grid(cv, &d->subs[k]);
    cv->y += 8;
    *at = i;
}

static void draw_bigs(canvas *cv, const map_data *d, size_t from)
{
    size_t largest = 0;
    for (size_t i = from; i < d->n; i++)
        if ((d->entries[i].flags & NTH_ENTRY_BIG) && d->entries[i].u.block.block_size > largest)
            largest = d->entries[i].u.block.block_size;
    if (largest == 0) return;
    line(cv, "label", "Big blocks, each mapped on its own (one scale: the largest is %zu KiB)", largest >> 10);
    for (size_t i = from; i < d->n; i++) {
        const nth_walk_entry *e = &d->entries[i];
        if (!(e->flags & NTH_ENTRY_BIG)) continue;
        double w = (double)e->u.block.block_size * BIG_WIDTH / (double)largest;
        if (w < 2) w = 2;
        if (cv->draw)
            fprintf(cv->out,
                    "<rect class=\"big\" x=\"%d\" y=\"%.0f\" width=\"%.2f\" height=\"%d\"><title>0x%" PRIxPTR
                    ": big block, 0x%zx bytes in a 0x%zx-byte mapping</title></rect>\n"
                    "<text class=\"note\" x=\"%.2f\" y=\"%.0f\">0x%" PRIxPTR ": 0x%zx bytes</text>\n",
                    MARGIN, cv->y + 2, w, ROW_HEIGHT, (uintptr_t)e->data, e->size, e->u.block.block_size,
                    MARGIN + w + 6, cv->y + 13, (uintptr_t)e->data, e->size);
        cv->y += ROW_STEP + 2;
    }
    cv->y += 8;
}

static const struct { const char *cls, *label; } legend_keys[] = {
    {"header", "segment header"}, {"busy", "busy"},          {"free", "free"},
    {"internal", "internal"},     {"lfh-busy", "LFH busy"},  {"lfh-free", "LFH free"},
    {"lfh-untouched", "LFH unused"}, {"uncommitted", "uncommitted"}, {"big", "big block"},
    {"damaged", "out of service"},
};

static void draw_legend(canvas *cv)
{
    double top = cv->y + 6;
    cv->y += 28;
    if (!cv->draw) return;
    int x = MARGIN;
    for (size_t i = 0; i < sizeof legend_keys / sizeof legend_keys[0]; i++) {
        fprintf(cv->out,
                "<rect class=\"key-%s\" x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%d\"/>"
                "<text class=\"note\" x=\"%d\" y=\"%.0f\">%s</text>\n",
                legend_keys[i].cls, x, top, CELL, CELL, x + CELL + 4, top + 11, legend_keys[i].label);
        x += CELL + 12 + (int)strlen(legend_keys[i].label) * 7;
    }
}

static void draw(canvas *cv, const map_data *d, uintptr_t heap, const char *title, const char *when,
                 const nth_map_counts *c)
{
    cv->y = 8;
    line(cv, "title", "%s", title ? title : "ntheap heap map");
    line(cv, "note", "Heap 0x%" PRIxPTR "%s%s", heap, when ? ", read at " : "", when ? when : "");
    line(cv, "note",
         "%zu segments; blocks: %zu busy, %zu free, %zu internal; LFH: %zu subsegments holding %zu busy blocks; "
         "%zu big blocks; %zu uncommitted ranges",
         c->segments, c->busy, c->free, c->internal, c->lfh_subsegments, c->lfh_busy, c->big, c->uncommitted);
    draw_legend(cv);
    size_t at = 0, segment = 0;
    while (at < d->n && (d->entries[at].flags & NTH_ENTRY_REGION)) draw_segment(cv, d, &at, segment++);
    draw_bigs(cv, d, at);
    if (d->problems) {
        line(cv, "problem", "%" PRIu32 " problem(s) met on the way; the first at 0x%" PRIxPTR ": expected %s, found %s",
             d->problems, d->problem.address, d->problem.expected ? d->problem.expected : "?",
             d->problem.found ? d->problem.found : "?");
    }
}

static const char style[] =
    "<style>\n"
    "text { font-family: monospace; font-size: 12px; fill: #222; }\n"
    ".title { font-size: 16px; font-weight: bold; }\n"
    ".problem { fill: #c00000; font-weight: bold; }\n"
    "path, rect { stroke: #ffffff; stroke-width: 0.4; }\n"
    ".segment { fill: #f4f4f4; stroke: #999999; stroke-width: 0.6; }\n"
    ".header, .key-header { fill: #505050; }\n"
    ".busy, .key-busy { fill: #3f74c4; }\n"
    ".free, .key-free { fill: #8ccf8c; }\n"
    ".internal, .key-internal { fill: #d2a040; }\n"
    ".damaged, .key-damaged { fill: #e02828; }\n"
    ".uncommitted, .key-uncommitted { fill: url(#hatch); stroke: #bbbbbb; }\n"
    ".lfh-busy, .key-lfh-busy { fill: #c0407a; }\n"
    ".lfh-free, .key-lfh-free { fill: #f2bcd4; }\n"
    ".lfh-untouched, .key-lfh-untouched { fill: #fbf0f5; stroke: #e0c0d0; }\n"
    ".big, .key-big { fill: #7a52b8; }\n"
    "</style>\n"
    "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">"
    "<rect width=\"6\" height=\"6\" fill=\"#ececec\" stroke=\"none\"/>"
    "<path d=\"M0 6L6 0\" stroke=\"#c4c4c4\" stroke-width=\"1\"/></pattern></defs>\n";

bool nth_map_svg(FILE *out, const nth_mem *mem, uintptr_t heap_address, const char *title, const char *when,
                 nth_map_counts *counts, char *error, size_t error_size)
{
    nth_map_counts local;
    nth_map_counts *c = counts ? counts : &local;
    memset(c, 0, sizeof *c);
    nth_iter it;
    if (!nth_iter_open(&it, mem, heap_address)) {
        snprintf(error, error_size, "0x%" PRIxPTR " is not a heap of this layout (expected %s, found %s)", heap_address,
                 it.problem.expected ? it.problem.expected : "?", it.problem.found ? it.problem.found : "?");
        return false;
    }
    map_data d = {0};
    if (!collect(&it, &d, c)) {
        release(&d);
        snprintf(error, error_size, "out of memory while reading the heap");
        return false;
    }
    canvas cv = {out, false, 0};
    draw(&cv, &d, heap_address, title, when, c);
    double height = cv.y + MARGIN;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%.0f\" "
            "viewBox=\"0 0 %d %.0f\">\n",
            PICTURE_WIDTH, height, PICTURE_WIDTH, height);
    fputs(style, out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\" stroke=\"none\"/>\n", PICTURE_WIDTH,
            height);
    cv.draw = true;
    draw(&cv, &d, heap_address, title, when, c);
    fputs("</svg>\n", out);
    release(&d);
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(error, error_size, "cannot write the picture");
        return false;
    }
    return true;
}
