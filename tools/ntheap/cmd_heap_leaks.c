/*
 * cmd_heap_leaks.c — `ntheap heap -l` (WinDbg's !heap -l): leak candidates, the busy blocks
 * no pointer reaches. A conservative mark from roots:
 *
 *   roots    every aligned 8-byte word of the target's writable mappings (stacks, data, bss,
 *            anonymous memory) that is not the heaps' own memory (segments, big-block
 *            mappings and record pages: their words are blocks or heap metadata), and the
 *            general registers of each stopped thread. A thread's stack is live only from its
 *            stack pointer (less the ABI's red zone) up to the top of its mapping:
 *
 *              stack mapping  [start ........ sp-128 | sp ......... top)
 *                              dead: stale copies     live frames: roots
 *                              of dropped pointers,
 *                              not scanned
 *
 *            Stack pointers come from ptrace (a stopped process) or the core's NT_PRSTATUS
 *            notes; with --self only the calling thread's is known (the tool's other threads'
 *            stacks are scanned whole), with --no-stop none is (every stack scanned whole).
 *            A mapping holding several stack pointers is scanned from the lowest of them.
 *   marked   a busy block that a root word points into (interior pointers count); the words
 *            of each marked block are then scanned in turn (a worklist), so blocks reached
 *            only through other reachable blocks are not leaks, and a cycle of lost blocks is
 *   leaks    busy, non-internal blocks left unmarked
 *
 * Conservative: a stale integer that looks like a pointer hides a leak, never invents one.
 * Writable mappings above 4 GiB (reserved address space such as a sanitizer's shadow) are not
 * scanned, and the output says how much was left out.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_heap.h"

#define HUGE_MAPPING ((uintptr_t)4 << 30) /* larger writable mappings are not scanned */

typedef struct lblock {
    uintptr_t start, end, header, heap, segment;
    uint64_t size, unused, block_size, prev;
    uint16_t flags;
    bool marked;
} lblock;

typedef struct range {
    uintptr_t start, end;
} range;

typedef struct leak_scan {
    lblock *blocks;
    size_t n, cap;
    range *own;       /* heap-owned memory, not roots */
    size_t n_own, cap_own;
    size_t *work;
    size_t n_work;
} leak_scan;

static bool push_block(leak_scan *s, const lblock *b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        lblock *grown = realloc(s->blocks, cap * sizeof *grown);
        if (!grown) return false;
        s->blocks = grown;
        s->cap = cap;
    }
    s->blocks[s->n++] = *b;
    return true;
}

static bool push_own(leak_scan *s, uintptr_t start, uintptr_t end)
{
    if (s->n_own == s->cap_own) {
        size_t cap = s->cap_own ? s->cap_own * 2 : 64;
        range *grown = realloc(s->own, cap * sizeof *grown);
        if (!grown) return false;
        s->own = grown;
        s->cap_own = cap;
    }
    s->own[s->n_own++] = (range){start, end};
    return true;
}

static int by_start(const void *a, const void *b)
{
    const lblock *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static lblock *block_at(leak_scan *s, uintptr_t p)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p < s->blocks[mid].start) hi = mid;
        else if (p >= s->blocks[mid].end) lo = mid + 1;
        else return &s->blocks[mid];
    }
    return NULL;
}

static bool is_own(const leak_scan *s, uintptr_t a)
{
    for (size_t i = 0; i < s->n_own; i++)
        if (a >= s->own[i].start && a < s->own[i].end) return true;
    return false;
}

/* Marks the block a word points into; a newly marked one joins the worklist. */
static void mark_word(leak_scan *s, uint64_t word)
{
    if (word < 4096) return;
    lblock *b = block_at(s, (uintptr_t)word);
    if (b && !b->marked) {
        b->marked = true;
        s->work[s->n_work++] = (size_t)(b - s->blocks);
    }
}

/* The first address at or after `a` that some mapping of the target holds, or 0. */
static uintptr_t next_mapped(const nth_target *t, uintptr_t a)
{
    size_t lo = 0, hi = nth_target_mapping_count(t);
    while (lo < hi) { /* the first mapping that ends after a */
        size_t mid = (lo + hi) / 2;
        if (nth_target_mapping_at(t, mid)->end <= a) lo = mid + 1;
        else hi = mid;
    }
    if (lo == nth_target_mapping_count(t)) return 0;
    const nth_target_mapping *m = nth_target_mapping_at(t, lo);
    return m->start > a ? m->start : a;
}

/* Marks the blocks the words of [start, end) point into. An unreadable stretch is passed over
 * to the next mapping, so a block that claims more than the target holds (a damaged big-block
 * record) costs what the target holds, not what it claims. */
static void scan(heap_cli *c, leak_scan *s, uintptr_t start, uintptr_t end)
{
    static uint64_t words[8192];
    start = (start + 7) & ~(uintptr_t)7;
    while (start < end) {
        size_t n = (end - start) / 8 < 8192 ? (size_t)((end - start) / 8) : 8192;
        if (n == 0) break;
        if (nth_target_read(c->target, start, words, n * 8) == 0) {
            for (size_t i = 0; i < n; i++) mark_word(s, words[i]);
        } else {
            if ((start | 4095) == UINTPTR_MAX) break; /* the last page of the address space */
            uintptr_t next = next_mapped(c->target, (start | 4095) + 1);
            if (next == 0 || next >= end) break;
            if (next > start + n * 8) {
                start = next & ~(uintptr_t)7;
                continue;
            }
        }
        start += n * 8;
    }
}

/* Where the live part of mapping m starts: the lowest live stack address of the threads whose
 * stack pointer lies in it (sp less the red zone), else the mapping's start. */
static uintptr_t live_start(const nth_target *t, const nth_target_mapping *m)
{
    uintptr_t from = m->end;
    for (size_t i = 0; i < nth_target_thread_count(t); i++) {
        const nth_target_thread *th = nth_target_thread_at(t, i);
        if (th->sp < m->start || th->sp >= m->end) continue;
        uintptr_t low = th->live_low < m->start ? m->start : th->live_low & ~(uintptr_t)7;
        if (low < from) from = low;
    }
    return from == m->end ? m->start : from;
}

static void collect(heap_cli *c, leak_scan *s, uintptr_t heap)
{
    nth_iter it;
    nth_walk_entry e;
    bool ok = nth_iter_open(&it, nth_target_mem(c->target), heap);
    while (ok && nth_iter_next(&it, &e)) {
        uintptr_t data = (uintptr_t)e.data;
        if (e.flags & NTH_ENTRY_REGION) {
            push_own(s, data, data + e.u.region.reserved);
            continue;
        }
        if (e.flags & NTH_ENTRY_BIG) push_own(s, (data - NTH_BIG_HEADER_BYTES) & ~(uintptr_t)(NTH_CHUNK - 1), data + e.size);
        if (!(e.flags & NTH_ENTRY_BUSY) || (e.flags & NTH_ENTRY_INTERNAL)) continue;
        bool lfh = e.flags & NTH_ENTRY_LFH, big = e.flags & NTH_ENTRY_BIG;
        lblock b = {.start = data, .end = data + (e.size ? e.size : 1), .header = lfh ? data : (uintptr_t)e.u.block.header,
                    .heap = heap, .segment = (uintptr_t)it.segment.owner.base, .size = e.size, .unused = e.overhead,
                    .block_size = e.u.block.block_size, .prev = lfh || big ? 0 : (uint64_t)it.hdr.prev_size_gr * NTH_GRANULE,
                    .flags = e.flags, .marked = false};
        if (!push_block(s, &b)) break;
    }
    heap_report_problems(c, heap, &it);
    /* big-block record pages: their records point at the big blocks */
    nth_heap h;
    if (nth_target_read(c->target, heap, &h, sizeof h) != 0 || h.magic != NTH_HEAP_MAGIC) return;
    uintptr_t page = (uintptr_t)h.big_pages;
    for (int n = 0; page && n < 4096; n++) {
        push_own(s, page & ~(uintptr_t)(NTH_CHUNK - 1), (page & ~(uintptr_t)(NTH_CHUNK - 1)) + NTH_BIG_PAGE_RESERVE);
        nth_big_page head;
        if (nth_target_read(c->target, page, &head, sizeof head) != 0 || head.magic != NTH_BIG_PAGE_MAGIC) break;
        page = (uintptr_t)head.next;
    }
    /* LFH subsegment metadata: each descriptor names its block 0 (first_block) */
    nth_lfh lfh;
    if (!h.lfh || nth_target_read(c->target, (uintptr_t)h.lfh, &lfh, sizeof lfh) != 0 || lfh.magic != NTH_LFH_MAGIC) return;
    uintptr_t at = (uintptr_t)lfh.all;
    nth_list_guard guard = {0, 0, 0};
    for (uint32_t n = 0; at && n < lfh.n_subsegments && nth_list_guard_step(&guard, at); n++) {
        nth_lfh_subsegment sub;
        if (nth_target_read(c->target, at, &sub, sizeof sub) != 0) break;
        push_own(s, at, at + (sub.meta_bytes ? sub.meta_bytes : sizeof sub));
        at = (uintptr_t)sub.next;
    }
}

int heap_view_leaks(heap_cli *c)
{
    leak_scan s = {0};
    emit_text(&c->e, "Searching the memory for potential unreachable busy blocks.\n");
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++) collect(c, &s, nth_target_heap_address(c->target, i));
    if (s.n) qsort(s.blocks, s.n, sizeof *s.blocks, by_start);
    s.work = malloc((s.n ? s.n : 1) * sizeof *s.work);
    if (!s.work) return 2;
    uint64_t scanned = 0, skipped = 0, dead_stack = 0;
    size_t n_threads = nth_target_thread_count(c->target);
    for (size_t i = 0; i < n_threads; i++) { /* registers: a stopped thread's live values */
        const nth_target_thread *th = nth_target_thread_at(c->target, i);
        for (size_t r = 0; r < th->n_regs; r++) mark_word(&s, th->regs[r]);
    }
    for (size_t i = 0; i < nth_target_mapping_count(c->target); i++) {
        const nth_target_mapping *m = nth_target_mapping_at(c->target, i);
        if ((m->prot & 6) != 6) continue;
        if (m->end - m->start > HUGE_MAPPING) { /* reserved address space, e.g. a sanitizer's shadow */
            skipped += m->end - m->start;
            continue;
        }
        if (strncmp(m->path, "[vvar", 5) == 0 || strcmp(m->path, "[vsyscall]") == 0) continue;
        uintptr_t from = live_start(c->target, m);
        dead_stack += from - m->start;
        for (uintptr_t a = from; a < m->end;) { /* page by page, skipping the heaps' own memory */
            uintptr_t b = (a | 4095) < m->end - 1 ? (a | 4095) + 1 : m->end; /* no wrap at the top */
            if (!is_own(&s, a)) {
                scan(c, &s, a, b);
                scanned += b - a;
            }
            a = b;
        }
    }
    while (s.n_work > 0) {
        const lblock *b = &s.blocks[s.work[--s.n_work]];
        scan(c, &s, b->start, b->end);
    }
    emit_text(&c->e, "Scanned %llu KiB of writable memory and %zu busy blocks.\n", (unsigned long long)(scanned / 1024), s.n);
    emit_kv_u64(&c->e, "scanned_bytes", NULL, scanned);
    emit_kv_u64(&c->e, "threads", NULL, n_threads);
    emit_kv_u64(&c->e, "dead_stack_bytes", NULL, dead_stack);
    if (n_threads)
        emit_text(&c->e, "Stacks scanned from the stack pointer up (%zu thread%s, registers included); "
                         "%llu KiB of dead\nstack below them left out.\n",
                  n_threads, n_threads == 1 ? "" : "s", (unsigned long long)(dead_stack / 1024));
    else
        emit_text(&c->e, "Stack pointers unknown (the process was not stopped): stacks scanned whole; stale words in\n"
                         "dead frames may hide leaks.\n");
    emit_kv_u64(&c->e, "skipped_bytes", NULL, skipped);
    if (skipped)
        emit_text(&c->e, "Not scanned: %llu GiB in writable mappings larger than 4 GiB (reserved address space, such as a\n"
                         "sanitizer's shadow memory); pointers kept only there are not seen.\n",
                  (unsigned long long)(skipped >> 30));
    emit_kv_u64(&c->e, "busy_blocks", NULL, s.n);
    static const emit_column columns[] = HEAP_ENTRY_COLUMNS("requested", EMIT_HEX);
    emit_table_begin(&c->e, "leaks", HEAP_ENTRY_HEADING, columns, 9, NULL);
    uint64_t leaks = 0;
    char words[96];
    for (size_t i = 0; i < s.n; i++) {
        const lblock *b = &s.blocks[i];
        if (b->marked) continue;
        leaks++;
        nth_walk_entry e = {.flags = b->flags};
        emit_row(&c->e, (uint64_t)b->header, (uint64_t)b->start, (uint64_t)b->heap, (uint64_t)b->segment, b->block_size,
                 b->prev, b->unused, heap_flag_words(&e, words, sizeof words), b->size);
    }
    emit_table_end(&c->e);
    emit_kv_u64(&c->e, "leak_count", NULL, leaks);
    emit_text(&c->e, "%llu leaks detected.\n", (unsigned long long)leaks);
    free(s.blocks);
    free(s.own);
    free(s.work);
    return leaks ? 1 : 0;
}
