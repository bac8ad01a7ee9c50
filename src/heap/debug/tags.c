/*
 * tags.c — heap tags: named groups of allocations with per-tag counters, as Windows' heap tags
 * (RtlCreateTagHeap, HEAP_MAKE_TAG_FLAGS) and pool tags (poolmon) keep them.
 *
 * A tagged heap owns one table, mapped privately (never in memory the heap hands out) on its
 * first tag and unmapped when the heap is destroyed:
 *
 *   tables ─► tag_table ─► tag_table ─► ...          (one per tagged heap, under tables_lock)
 *             | heap | rows[0..NTH_MAX_TAG] | records (open addressing) | module ranges |
 *   (struct layout in outside_layout.h; the list head is also nth_heap_registry.tag_tables)
 *
 *   rows      the counters of each tag; row 0 counts untagged blocks of the tagged heap
 *   records   one {block, requested size, tag} per live block allocated while the heap had
 *             tags: the block remembers its tag out of band, the 16-byte header stays as it is.
 *             Linear probing on the block address; deletion shifts the cluster back (no
 *             tombstones). Blocks allocated before the first tag have no record and are ignored.
 *   ranges    tags=module only: address ranges of loaded objects and the tag of each, so a
 *             return address finds its module's tag without asking the loader again
 *
 * Invariants: rows and records change only with the heap lock held (the hooks of tags.h run in
 * the entry points' critical sections); for every tag, bytes is the sum of the sizes of its
 * records. Lock order: heap lock, then tables_lock. The table never calls malloc (the malloc
 * replacement runs this code), and dl_iterate_phdr is called with no lock of ours held.
 */
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap/debug/outside_layout.h"
#include "heap/debug/tags.h"
#include "heap/internal.h"
#include "heap/vm.h"

#define MODULE_RANGES NTH_TAG_MODULE_RANGES
#define RECORDS_INITIAL 1024u

/* The table's layout is read from outside too (outside_layout.h). */
typedef nth_tag_record tag_record;
typedef nth_tag_range module_range;
typedef nth_tag_table tag_table;

atomic_uint nth_tags_heaps;
bool nth_tags_by_module;

static tag_table *tables;
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;

static tag_table *table_of(const nth_heap *heap)
{
    pthread_mutex_lock(&tables_lock);
    tag_table *t = tables;
    while (t && t->heap != heap) t = t->next;
    pthread_mutex_unlock(&tables_lock);
    return t;
}

/* The heap's table, created (and the heap's LFH switched off) on first use; NULL without memory. */
static tag_table *table_for(nth_heap *heap)
{
    tag_table *t = table_of(heap);
    if (t) return t;
    tag_table *fresh = nth_vm_map_private(sizeof *fresh);
    if (!fresh) return NULL;
    fresh->magic = NTH_TAG_TABLE_MAGIC;
    fresh->heap = heap;
    fresh->n_tags = 1;
    snprintf(fresh->rows[0].name, sizeof fresh->rows[0].name, "(untagged)");
    pthread_mutex_lock(&tables_lock);
    for (t = tables; t && t->heap != heap; t = t->next) {}
    if (!t) {
        fresh->next = tables;
        tables = t = fresh;
        nth_heap_registry.tag_tables = tables;
        atomic_fetch_add(&nth_tags_heaps, 1);
        fresh = NULL;
    }
    pthread_mutex_unlock(&tables_lock);
    if (fresh) {
        nth_vm_unmap_private(fresh, sizeof *fresh); /* another thread made it first */
        return t;
    }
    (void)nth_heap_set_option(heap, NTH_OPTION_LFH, 0); /* a debug mode: no LFH, as on Windows */
    return t;
}

/* ------------------------------------------------------------------------------- records */

static size_t slot_of(const tag_table *t, uintptr_t ptr)
{
    return (size_t)(((uint64_t)(ptr >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & (t->capacity - 1);
}

static tag_record *record_find(tag_table *t, uintptr_t ptr)
{
    if (!t->records) return NULL;
    for (size_t i = slot_of(t, ptr);; i = (i + 1) & (t->capacity - 1)) {
        if (t->records[i].ptr == ptr) return &t->records[i];
        if (t->records[i].ptr == 0) return NULL;
    }
}

static void record_put(tag_table *t, tag_record r)
{
    size_t i = slot_of(t, r.ptr);
    while (t->records[i].ptr != 0) i = (i + 1) & (t->capacity - 1);
    t->records[i] = r;
    t->count++;
}

/* Doubles the record table; false (nothing changed) when no memory is left. */
static bool records_grow(tag_table *t)
{
    size_t capacity = t->capacity ? t->capacity * 2 : RECORDS_INITIAL;
    tag_record *old = t->records, *fresh = nth_vm_map_private(capacity * sizeof *fresh);
    if (!fresh) return false;
    size_t old_capacity = t->capacity;
    t->records = fresh;
    t->capacity = capacity;
    t->count = 0;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].ptr) record_put(t, old[i]);
    if (old) nth_vm_unmap_private(old, old_capacity * sizeof *old);
    return true;
}

/* Removes a found record, shifting back the records after it that probed past its slot. */
static void record_remove(tag_table *t, tag_record *r)
{
    size_t mask = t->capacity - 1, hole = (size_t)(r - t->records);
    t->records[hole].ptr = 0;
    t->count--;
    for (size_t i = (hole + 1) & mask; t->records[i].ptr != 0; i = (i + 1) & mask) {
        size_t home = slot_of(t, t->records[i].ptr);
        /* The record may move to the hole if its home is not in (hole, i] (cyclically). */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays) continue;
        t->records[hole] = t->records[i];
        t->records[i].ptr = 0;
        hole = i;
    }
}

static uint32_t tag_of_flags(const tag_table *t, uint32_t flags)
{
    uint32_t tag = (flags & NTH_TAG_MASK) >> NTH_TAG_SHIFT;
    return tag < t->n_tags ? tag : 0;
}

static void credit(nth_tag_stats *row, size_t size)
{
    row->bytes += size;
    if (row->bytes > row->peak_bytes) row->peak_bytes = row->bytes;
}

/* ---------------------------------------------------------------- hooks (heap lock held) */

void nth_tags_on_alloc_locked(nth_heap *heap, uint32_t flags, const void *ptr, size_t size)
{
    tag_table *t = table_of(heap);
    if (!t || !ptr) return;
    if (t->count + 1 > t->capacity / 2 && !records_grow(t)) return; /* uncounted, not misdebited */
    uint32_t tag = tag_of_flags(t, flags);
    record_put(t, (tag_record){(uintptr_t)ptr, size, tag});
    t->rows[tag].allocs++;
    credit(&t->rows[tag], size);
}

void nth_tags_on_free_locked(nth_heap *heap, const void *ptr)
{
    tag_table *t = table_of(heap);
    tag_record *r = t ? record_find(t, (uintptr_t)ptr) : NULL;
    if (!r) return;
    t->rows[r->tag].frees++;
    t->rows[r->tag].bytes -= r->size;
    record_remove(t, r);
}

void nth_tags_on_move_locked(nth_heap *heap, uint32_t flags, const void *old, const void *ptr, size_t size)
{
    tag_table *t = table_of(heap);
    tag_record *r = t ? record_find(t, (uintptr_t)old) : NULL;
    if (!r) return;
    uint32_t was = r->tag, tag = (flags & NTH_TAG_MASK) ? tag_of_flags(t, flags) : was;
    t->rows[was].bytes -= r->size;
    if (tag != was) { /* retagged by the realloc's flags: the block leaves one tag for another */
        t->rows[was].frees++;
        t->rows[tag].allocs++;
    }
    credit(&t->rows[tag], size);
    if (old == ptr) {
        r->size = size;
        r->tag = tag;
        return;
    }
    record_remove(t, r);
    record_put(t, (tag_record){(uintptr_t)ptr, size, tag}); /* count went down: room is left */
}

uint32_t nth_tags_flags_of_locked(nth_heap *heap, const void *ptr)
{
    tag_table *t = table_of(heap);
    tag_record *r = t ? record_find(t, (uintptr_t)ptr) : NULL;
    return r ? NTH_MAKE_TAG_FLAGS(0, r->tag) : 0;
}

void nth_tags_heap_destroyed(nth_heap *heap)
{
    pthread_mutex_lock(&tables_lock);
    tag_table **link = &tables;
    while (*link && (*link)->heap != heap) link = &(*link)->next;
    tag_table *t = *link;
    if (t) {
        *link = t->next;
        nth_heap_registry.tag_tables = tables;
        atomic_fetch_sub(&nth_tags_heaps, 1);
    }
    pthread_mutex_unlock(&tables_lock);
    if (!t) return;
    if (t->records) nth_vm_unmap_private(t->records, t->capacity * sizeof *t->records);
    nth_vm_unmap_private(t, sizeof *t);
}

/* ------------------------------------------------------------------------------ public API */

/* A new row named `name`, or the index of the existing row of that name when `reuse`; 0 when
 * every index is taken. Heap lock held. */
static uint32_t row_named(tag_table *t, const char *name, bool reuse)
{
    if (reuse)
        for (uint32_t i = 1; i < t->n_tags; i++)
            if (strncmp(t->rows[i].name, name, NTH_TAG_NAME_MAX - 1) == 0) return i;
    if (t->n_tags > NTH_MAX_TAG) return 0;
    uint32_t index = t->n_tags++;
    snprintf(t->rows[index].name, sizeof t->rows[index].name, "%s", name);
    t->rows[index].index = index;
    return index;
}

uint32_t nth_heap_create_tag(nth_heap *heap, const char *name)
{
    if (!nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return 0;
    }
    if (!name || !*name) {
        nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
        return 0;
    }
    tag_table *t = table_for(heap);
    if (!t) {
        nth_set_last_error(NTH_ERR_NO_MEMORY);
        return 0;
    }
    nth_call_lock(heap, heap->force_flags);
    uint32_t index = row_named(t, name, false);
    nth_call_unlock(heap, heap->force_flags);
    if (index == 0) nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
    return index;
}

size_t nth_heap_tag_stats(nth_heap *heap, nth_tag_stats *out, size_t capacity)
{
    if (!nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return 0;
    }
    tag_table *t = table_of(heap);
    if (!t) return 0;
    if (!out) capacity = 0; /* the count alone */
    nth_call_lock(heap, heap->force_flags);
    size_t n = t->n_tags;
    for (size_t i = 0; i < n && i < capacity; i++) out[i] = t->rows[i];
    nth_call_unlock(heap, heap->force_flags);
    return n;
}

bool nth_heap_query_tag(nth_heap *heap, uint32_t index, bool reset, nth_tag_stats *out)
{
    if (!nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return false;
    }
    tag_table *t = table_of(heap);
    bool ok = false;
    if (t) {
        nth_call_lock(heap, heap->force_flags);
        if (index < t->n_tags) {
            if (out) *out = t->rows[index];
            if (reset) {
                t->rows[index].allocs = t->rows[index].frees = 0;
                t->rows[index].peak_bytes = t->rows[index].bytes;
            }
            ok = true;
        }
        nth_call_unlock(heap, heap->force_flags);
    }
    if (!ok) nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
    return ok;
}

int nth_tags_by_bytes(const void *a, const void *b)
{
    const nth_tag_stats *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    if (x->allocs != y->allocs) return x->allocs < y->allocs ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int nth_tags_by_allocs(const void *a, const void *b)
{
    const nth_tag_stats *x = a, *y = b;
    if (x->allocs != y->allocs) return x->allocs < y->allocs ? 1 : -1;
    return nth_tags_by_bytes(a, b);
}

/* poolmon's columns; rows that never counted anything are left out. */
bool nth_heap_print_tags(nth_heap *heap, FILE *out, nth_tag_sort sort)
{
    if (!out) {
        nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
        return false;
    }
    size_t bytes = (NTH_MAX_TAG + 1) * sizeof(nth_tag_stats);
    nth_tag_stats *rows = nth_vm_map_private(bytes); /* not malloc: this may be the malloc heap */
    if (!rows) return false;
    size_t n = nth_heap_tag_stats(heap, rows, NTH_MAX_TAG + 1), shown = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].allocs || rows[i].frees || rows[i].bytes) rows[shown++] = rows[i];
    qsort(rows, shown, sizeof *rows, sort == NTH_TAG_SORT_ALLOCS ? nth_tags_by_allocs : nth_tags_by_bytes);
    if (n) {
        fprintf(out, "%-5s %-32s %12s %12s %12s %14s %14s\n", "index", "tag", "allocs", "frees", "diff",
                "bytes", "peak");
        for (size_t i = 0; i < shown; i++)
            fprintf(out, "%5u %-32s %12llu %12llu %12lld %14zu %14zu\n", (unsigned)rows[i].index, rows[i].name,
                    (unsigned long long)rows[i].allocs, (unsigned long long)rows[i].frees,
                    (long long)(rows[i].allocs - rows[i].frees), rows[i].bytes, rows[i].peak_bytes);
    }
    nth_vm_unmap_private(rows, bytes);
    return n != 0;
}

/* ----------------------------------------------------------------------- tags=module */

typedef struct module_search {
    uintptr_t addr;
    uintptr_t lo, hi;
    const char *name;
} module_search;

static int find_module(struct dl_phdr_info *info, size_t size, void *data)
{
    module_search *s = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    bool inside = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (start < lo) lo = start;
        if (end > hi) hi = end;
        if (s->addr >= start && s->addr < end) inside = true;
    }
    if (!inside) return 0;
    s->lo = lo;
    s->hi = hi;
    s->name = info->dlpi_name;
    return 1;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

uint32_t nth_tags_module_flags(const void *caller)
{
    nth_heap *heap = nth_heap_registry.process_heap;
    tag_table *t = heap ? table_for(heap) : NULL;
    if (!t) return 0;
    uintptr_t addr = (uintptr_t)caller;
    uint32_t tag = 0;
    nth_call_lock(heap, 0);
    for (uint32_t i = 0; i < t->n_ranges && !tag; i++)
        if (addr >= t->ranges[i].lo && addr < t->ranges[i].hi) tag = t->ranges[i].tag;
    nth_call_unlock(heap, 0);
    if (tag) return NTH_MAKE_TAG_FLAGS(0, tag);

    module_search s = {addr, addr & ~(uintptr_t)(NTH_PAGE - 1), (addr | (NTH_PAGE - 1)) + 1, NULL};
    const char *name = dl_iterate_phdr(find_module, &s) && s.name ? s.name : NULL;
    if (!name) name = "(anonymous code)";
    else if (!*name) name = program_invocation_short_name; /* the main program has no name here */
    name = base_name(name);

    nth_call_lock(heap, 0);
    tag = row_named(t, name, true);
    if (tag) {
        uint32_t slot = t->n_ranges < MODULE_RANGES ? t->n_ranges++ : t->next_range++ % MODULE_RANGES;
        t->ranges[slot] = (module_range){s.lo, s.hi, tag};
    }
    nth_call_unlock(heap, 0);
    return NTH_MAKE_TAG_FLAGS(0, tag);
}

void *nth_tags_alloc(size_t size, uint32_t flags, const void *caller, const char *call)
{
    void *p = NULL;
    if (size <= PTRDIFF_MAX)
        p = nth_heap_alloc_as(nth_heap_registry.process_heap, flags | nth_tags_module_flags(caller), size, call);
    if (!p) errno = ENOMEM;
    return p;
}

static pthread_once_t report_once = PTHREAD_ONCE_INIT;

static void report_at_exit(void)
{
    if (!nth_process_defaults.tag_report) return;
    nth_heap *heap = nth_heap_registry.process_heap;
    if (!heap) return;
    fprintf(stderr, "ntheap: tags of the process heap (by bytes in use):\n");
    if (!nth_heap_print_tags(heap, stderr, NTH_TAG_SORT_BYTES)) fprintf(stderr, "ntheap: (no tags)\n");
}

static void arm_report(void)
{
    atexit(report_at_exit);
}

void nth_tags_options_changed(void)
{
    /* Routing starts once the process heap exists: calls made while it is being created go the
     * malloc layer's own way (its bootstrap arena). */
    nth_tags_by_module = nth_process_defaults.tags != 0 && nth_heap_registry.process_heap != NULL;
    if (nth_process_defaults.tag_report) pthread_once(&report_once, arm_report);
}
