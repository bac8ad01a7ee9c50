/*
 * cmd_heap_page.c — `ntheap heap -a ADDR`: WinDbg's `!heap -p -a` — the block that contains an
 * address (back-end, LFH, big or page-heap block; any interior address), its heap, user
 * address, size and state, and its allocation stack (and free stack, for a freed block the page
 * heap still holds) from the target's stack-trace database, named in this process from the
 * target's mapped ELF files.
 *
 *   ADDR ─► heap walk (heap_find_entry) ─► block ─► delayed-free queue? ─► state, stacks
 *                                       └► none ─► delayed-free queue (a full page heap's freed
 *                                                  block is detached from its heap)
 *
 *   address 00005555557a2a38 found in
 *       heap 00007ffff7fb0000, page heap block
 *       user 00005555557a2a30, 100 bytes, busy (8 bytes inside)
 *   allocation stack:
 *       #0 00005555555552a4 make_block+0x1f (test_x+0x12a4)
 *   free stack: (none: the block is busy)
 *
 * States: busy; free (a back-end or LFH free block: no stack is kept once a block is freed,
 * unless the page heap delays the free); delayed-free (held by the page heap: both stacks).
 */
#include <limits.h>
#include <string.h>

#include "cmd_heap.h"
#include "frames.h"

#define MAX_FRAMES 64

typedef struct page_block {
    uintptr_t heap, user;
    uint64_t size;
    const char *kind, *state;
    uint32_t alloc_stack, free_stack;
    bool traced; /* the database knows the block */
} page_block;

static void emit_stack(heap_cli *c, const nth_trace_reader *r, nth_symbolizer *s, const char *key,
                       const char *title, uint32_t stack, const char *none)
{
    static const emit_column columns[] = {
        {"index", EMIT_U64, "    #%" PRIu64, NULL},   {"address", EMIT_HEX, " %016" PRIx64, NULL},
        {"symbol", EMIT_STR, " %s", NULL},             {"symbol_offset", EMIT_HEX, "+0x%" PRIx64, NULL},
        {"module", EMIT_STR, " (%s", NULL},            {"module_offset", EMIT_HEX, "+0x%" PRIx64 ")", NULL},
        {"source", EMIT_STR, " %s", NULL},
    };
    uintptr_t f[MAX_FRAMES];
    size_t n = r && stack ? nth_traces_user_frames(r, s, stack, f, MAX_FRAMES) : 0;
    emit_text(&c->e, "%s:%s%s\n", title, n ? "" : " ", n ? "" : none);
    emit_array_begin(&c->e, key);
    for (size_t k = 0; k < n; k++) {
        frame_text t;
        char source[PATH_MAX + 16];
        frame_describe(s, f[k], &t);
        frame_source(s, f[k], source, sizeof source);
        emit_record(&c->e, columns, 7, NULL, (uint64_t)k, (uint64_t)t.address, t.symbol, t.symbol_offset, t.module,
                    t.module_offset, source);
            }
    emit_array_end(&c->e);
}

/* A big entry's record says whether the page heap made it. */
static bool is_page_heap(heap_cli *c, uintptr_t data)
{
    const nth_mem *mem = nth_target_mem(c->target);
    uintptr_t record = mem->owner_of ? mem->owner_of(mem, data) : 0;
    nth_big big;
    return record && nth_target_read(c->target, record, &big, sizeof big) == 0 && big.owner.kind == OWNER_BIG &&
           (uintptr_t)big.data == data && big.page_heap;
}

/* The block holding c->address, from the heaps' walk or the delayed-free queue. */
static bool locate(heap_cli *c, const nth_trace_reader *r, bool have_traces, page_block *b)
{
    found_entry f;
    nth_delayed d;
    if (heap_find_entry(c, c->address, false, &f) && strcmp(f.what, "block") == 0) {
        const nth_walk_entry *e = &f.entry;
        *b = (page_block){f.heap, (uintptr_t)e->data, e->size, "back-end", "free", 0, 0, false};
        if (e->flags & NTH_ENTRY_LFH) b->kind = "LFH";
        else if (e->flags & NTH_ENTRY_BIG) b->kind = is_page_heap(c, b->user) ? "page heap" : "big (virtual)";
        if (e->flags & NTH_ENTRY_BUSY) b->state = e->flags & NTH_ENTRY_INTERNAL ? "busy (internal)" : "busy";
        if ((e->flags & NTH_ENTRY_BUSY) && nth_delayed_find(c->target, b->user, false, &d)) {
            /* light page heap: the block stays busy in its heap while the free is delayed */
            b->state = "delayed-free";
            b->kind = "light page heap";
            b->alloc_stack = d.alloc_stack;
            b->free_stack = d.free_stack;
            b->traced = true;
        } else if ((e->flags & NTH_ENTRY_BUSY) && have_traces) {
            nth_trace_block t;
            if (nth_traces_block(r, b->user, &t)) b->alloc_stack = t.alloc_stack, b->traced = true;
        }
        return true;
    }
    if (!nth_delayed_find(c->target, c->address, true, &d)) return false;
    *b = (page_block){(uintptr_t)d.heap, (uintptr_t)d.data, d.size, d.base ? "page heap" : "light page heap",
                      "delayed-free", d.alloc_stack, d.free_stack, true};
    return true;
}

int heap_view_page(heap_cli *c)
{
    nth_trace_reader r;
    bool have_traces = nth_traces_open(c->target, &r);
    page_block b;
    if (!locate(c, &r, have_traces, &b)) {
        char text[200];
        snprintf(text, sizeof text, "%016lx is not inside a block of any ntheap heap of this target",
                 (unsigned long)c->address);
        emit_kv_str(&c->e, "not_found", "ntheap: ", text);
        return 1;
    }
    emit_kv_hex(&c->e, "address", NULL, c->address, ADDR_DIGITS);
    emit_kv_hex(&c->e, "heap", NULL, b.heap, ADDR_DIGITS);
    emit_kv_str(&c->e, "kind", NULL, b.kind);
    emit_kv_hex(&c->e, "user", NULL, b.user, ADDR_DIGITS);
    emit_kv_u64(&c->e, "size", NULL, b.size);
    emit_kv_str(&c->e, "state", NULL, b.state);
    bool before = c->address < b.user;
    uint64_t distance = before ? b.user - c->address : c->address - b.user;
    emit_kv_u64(&c->e, before ? "bytes_before_user" : "offset", NULL, distance);
    emit_text(&c->e, "address %016lx found in\n    heap %016lx, %s block\n    user %016lx, %" PRIu64
              " bytes, %s (%" PRIu64 " bytes %s)\n",
              (unsigned long)c->address, (unsigned long)b.heap, b.kind, (unsigned long)b.user, b.size, b.state,
              distance, before ? "before the user address" : "inside");
    nth_symbolizer *s = nth_symbolizer_new(c->target);
    const nth_trace_reader *rp = have_traces ? &r : NULL;
    const char *why = !have_traces && !b.traced ? "(none: the target runs without stack_traces=1)"
                      : b.traced                ? "(none recorded)"
                                                : "(none: the database does not know this block)";
    emit_stack(c, rp, s, "alloc_stack", "allocation stack", b.alloc_stack, why);
    emit_stack(c, rp, s, "free_stack", "free stack", b.free_stack,
               strcmp(b.state, "delayed-free") == 0 ? "(none recorded)"
               : strncmp(b.state, "busy", 4) == 0     ? "(none: the block is busy)"
                                                      : "(none: only blocks the page heap delays keep one)");
    nth_symbolizer_free(s);
    return 0;
}
