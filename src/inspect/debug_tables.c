/*
 * debug_tables.c — the debug heap's tables of a target, read through its read seam: the
 * stack-trace database (trace_layout.h), the delayed-free queue and the tag tables
 * (outside_layout.h), each found through the target's registries (the first registry that has
 * one wins).
 *
 *   database  | header 128 B | stacks[] | frames[] | buckets[] | blocks[] |   at registry.traces
 *             header checked: magic, version, every array inside [base, base + its length),
 *             n_stacks <= stack_capacity, frames_used <= frame_capacity, n_block_slots = 1 << 21
 *
 * Bounds: a stack index must be below n_stacks and its frames inside frames_used; a block probe
 * runs at most n_block_slots slots; the block table is read in 64 KiB slices; the delayed ring
 * at most `capacity` (itself capped) entries, after its magic; the tag-table list at most 4096
 * tables, each checked by its magic, ending at the first repeat. A read the seam refuses ends
 * the walk with what was read so far.
 */
#include <string.h>

#include "inspect/debug_read.h"
#include "inspect/target_internal.h"

#define SLICE_BLOCKS (65536 / sizeof(nth_trace_block))
#define MAX_DELAYED ((size_t)1 << 20)
#define MAX_TAG_TABLES 4096u
#define CAPTURE_MAX 64u

static bool rd(const nth_target *t, uintptr_t address, void *buffer, size_t length)
{
    return t->mem.read(&t->mem, address, buffer, length);
}

/* The registry field at `offset` of the first registry where it is non-zero. */
static uintptr_t registry_pointer(const nth_target *t, size_t offset)
{
    for (uint32_t i = 0; i < t->n_sources; i++) {
        uintptr_t p = 0;
        if (rd(t, t->registries[i] + offset, &p, sizeof p) && p) return p;
    }
    return 0;
}

static uintptr_t registry_of(const nth_target *t, size_t offset)
{
    for (uint32_t i = 0; i < t->n_sources; i++) {
        uintptr_t p = 0;
        if (rd(t, t->registries[i] + offset, &p, sizeof p) && p) return t->registries[i];
    }
    return 0;
}

/* ----------------------------------------------------------------------- trace database */

static bool array_ok(uint64_t offset, uint64_t count, size_t item, uint64_t total)
{
    return offset >= sizeof(nth_trace_db) && offset <= total && count <= (total - offset) / item;
}

bool nth_traces_open(const nth_target *target, nth_trace_reader *r)
{
    memset(r, 0, sizeof *r);
    r->target = target;
    r->base = registry_pointer(target, offsetof(nth_registry, traces));
    if (!r->base || !rd(target, r->base, &r->db, sizeof r->db)) return false;
    const nth_trace_db *d = &r->db;
    const uint64_t total = (uint64_t)1 << 40; /* no database is larger; offsets beyond are damage */
    if (d->magic != NTH_TRACE_MAGIC || d->version != 1 || d->n_block_slots != ((uint64_t)1 << NTH_TRACE_BLOCK_SLOTS_LG) ||
        d->n_stacks > d->stack_capacity || d->frames_used > d->frame_capacity || d->depth_max > CAPTURE_MAX ||
        !array_ok(d->stacks_offset, d->stack_capacity, sizeof(nth_trace_stack), total) ||
        !array_ok(d->frames_offset, d->frame_capacity, sizeof(uintptr_t), total) ||
        !array_ok(d->blocks_offset, d->n_block_slots, sizeof(nth_trace_block), total))
        return false;
    /* the engine's file: the mapping that holds the registry naming this database */
    uintptr_t registry = registry_of(target, offsetof(nth_registry, traces));
    for (size_t i = 0; i < target->n_maps; i++)
        if (registry >= target->maps[i].start && registry < target->maps[i].end) {
            r->engine_path = target->maps[i].path;
            break;
        }
    return true;
}

bool nth_traces_block(const nth_trace_reader *r, uintptr_t data, nth_trace_block *out)
{
    if (!data) return false;
    uint64_t mask = r->db.n_block_slots - 1;
    uintptr_t blocks = r->base + (uintptr_t)r->db.blocks_offset;
    for (uint64_t i = nth_trace_home_slot(data) & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
        nth_trace_block b;
        if (!rd(r->target, blocks + (uintptr_t)i * sizeof b, &b, sizeof b) || b.data == 0) return false;
        if (b.data == data) {
            *out = b;
            return true;
        }
    }
    return false;
}

size_t nth_traces_frames(const nth_trace_reader *r, uint32_t stack, uintptr_t *out, size_t max)
{
    nth_trace_stack st;
    if (stack == 0 || stack >= r->db.n_stacks ||
        !rd(r->target, r->base + (uintptr_t)r->db.stacks_offset + (uintptr_t)stack * sizeof st, &st, sizeof st))
        return 0;
    if (st.first > r->db.frames_used || st.depth > r->db.frames_used - st.first) return 0;
    size_t n = st.depth < max ? st.depth : max;
    if (!rd(r->target, r->base + (uintptr_t)r->db.frames_offset + (uintptr_t)st.first * sizeof(uintptr_t), out,
            n * sizeof(uintptr_t)))
        return 0;
    return n;
}

size_t nth_traces_for_each(const nth_trace_reader *r, void (*fn)(const nth_trace_block *b, void *ctx), void *ctx)
{
    static nth_trace_block slice[SLICE_BLOCKS];
    size_t calls = 0;
    uintptr_t blocks = r->base + (uintptr_t)r->db.blocks_offset;
    for (uint64_t at = 0; at < r->db.n_block_slots; at += SLICE_BLOCKS) {
        size_t n = r->db.n_block_slots - at < SLICE_BLOCKS ? (size_t)(r->db.n_block_slots - at) : SLICE_BLOCKS;
        if (!rd(r->target, blocks + (uintptr_t)at * sizeof *slice, slice, n * sizeof *slice)) continue;
        for (size_t i = 0; i < n; i++) {
            if (!slice[i].data) continue;
            if (slice[i].alloc_stack >= r->db.n_stacks) slice[i].alloc_stack = 0;
            fn(&slice[i], ctx);
            calls++;
        }
    }
    return calls;
}

static bool engine_entry(const char *name)
{
    static const char *const entries[] = {"malloc", "free", "calloc", "realloc", "reallocarray", "memalign",
                                          "aligned_alloc", "posix_memalign", "valloc", "pvalloc"};
    if (strncmp(name, "nth_", 4) == 0) return true;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (strcmp(name, entries[i]) == 0) return true;
    return false;
}

size_t nth_traces_user_frames(const nth_trace_reader *r, nth_symbolizer *s, uint32_t stack, uintptr_t *out,
                              size_t max)
{
    uintptr_t f[CAPTURE_MAX];
    size_t n = nth_traces_frames(r, stack, f, CAPTURE_MAX), skip = 0;
    for (; skip < n && r->engine_path; skip++) {
        nth_frame_name name;
        if (!nth_symbolize(s, f[skip] - 1, &name) || strcmp(name.path, r->engine_path) != 0) break;
        if (name.symbol && !name.local && !engine_entry(name.symbol)) break;
    }
    /* the program's depth: the database keeps 4 frames more for the engine's own */
    size_t depth = r->db.depth_max > 4 ? r->db.depth_max - 4 : 1, kept = 0;
    for (size_t k = skip; k < n && kept < max && kept < depth; k++) out[kept++] = f[k];
    return kept;
}

/* -------------------------------------------------------------------- delayed-free queue */

bool nth_delayed_find(const nth_target *target, uintptr_t address, bool containing, nth_delayed *out)
{
    uintptr_t at = registry_pointer(target, offsetof(nth_registry, delayed));
    nth_delay_queue q;
    if (!at || !rd(target, at, &q, sizeof q) || q.magic != NTH_DELAY_QUEUE_MAGIC || !q.ring || q.capacity == 0 ||
        q.capacity > MAX_DELAYED || q.count > q.capacity || q.head >= q.capacity)
        return false;
    for (size_t k = 0; k < q.count; k++) { /* newest first */
        nth_delayed b;
        size_t slot = (q.head + q.count - 1 - k) % q.capacity;
        if (!rd(target, (uintptr_t)q.ring + slot * sizeof b, &b, sizeof b)) return false;
        uintptr_t data = (uintptr_t)b.data, base = (uintptr_t)b.base;
        bool hit = data == address;
        if (!hit && containing) hit = base ? address - base < b.bytes : address - data < b.size;
        if (hit) {
            *out = b;
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------- tag tables */

size_t nth_tag_tables_read(const nth_target *target,
                           void (*fn)(uintptr_t heap, const nth_tag_stats *rows, size_t n_rows, void *ctx), void *ctx)
{
    static nth_tag_table table;
    static uintptr_t visited[MAX_TAG_TABLES];
    size_t seen = 0;
    for (uintptr_t at = registry_pointer(target, offsetof(nth_registry, tag_tables)); at && seen < MAX_TAG_TABLES; seen++) {
        bool again = false; /* a cyclic list ends at its first repeat */
        for (size_t i = 0; i < seen && !again; i++) again = visited[i] == at;
        if (again || !rd(target, at, &table, sizeof table) || table.magic != NTH_TAG_TABLE_MAGIC) break;
        visited[seen] = at;
        size_t n = table.n_tags <= NTH_MAX_TAG + 1 ? table.n_tags : NTH_MAX_TAG + 1;
        for (size_t i = 0; i < n; i++) table.rows[i].name[NTH_TAG_NAME_MAX - 1] = '\0';
        fn((uintptr_t)table.heap, table.rows, n, ctx);
        at = (uintptr_t)table.next;
    }
    return seen;
}
