/*
 * cmd_heap_entries.c — the views that list or decode single entries:
 *
 *   -h / -hl [HEAP]   !heap -h: per heap its parameters, then per segment "Heap entries for
 *                     SegmentNN": each block as  address: psize . size [flags] - busy (req),
 *                     uncommitted ranges as "- uncommitted bytes."; -hl expands each LFH
 *                     subsegment ("LFH data region at ...") with its slots: busy, free
 *                     (handed out before, busy bit clear now), and one line for the slots
 *                     never handed out
 *   -i ADDR           !heap -i: one block decoded (header words, sizes, unused bytes, flags,
 *                     owning segment or LFH subsegment and bucket, neighbours)
 *   -x ADDR           !heap -x: the heap, segment and block containing any address
 *
 * ntheap's headers are 16 bytes and encoded with a 16-byte per-heap key; the [flags] column
 * holds ntheap's decoded block flags (1 busy, 2 extra, 4 fill, 8 big, 10 last, 20 internal,
 * 40 LFH subsegment, 80 damaged), not Windows' bits. LFH blocks carry no header at all: their
 * state lives in the subsegment's bitmaps, so -i says so rather than showing header words.
 */
#include <string.h>

#include "cmd_heap.h"

static void print_parameters(heap_cli *c, uintptr_t address, const nth_heap *h)
{
    c->e.label_width = 22;
    emit_kv_hex(&c->e, "flags", "Flags:", h->flags | (h->maximum == 0 ? NTH_GROWABLE : 0), 8);
    emit_kv_hex(&c->e, "force_flags", "ForceFlags:", h->force_flags, 8);
    emit_kv_u64(&c->e, "granularity", "Granularity (bytes):", NTH_GRANULE);
    emit_kv_hex(&c->e, "segment_reserve", "Segment Reserve:", h->segment_reserve, 8);
    emit_kv_hex(&c->e, "segment_commit", "Segment Commit:", h->commit_step, 8);
    emit_kv_hex(&c->e, "decommit_block_threshold", "DeCommit Block Thres:", h->decommit_free_block, 8);
    emit_kv_hex(&c->e, "decommit_total_threshold", "DeCommit Total Thres:", h->decommit_total_free, 8);
    emit_kv_hex(&c->e, "total_free_size", "Total Free Size:", h->free_bytes / NTH_GRANULE, 8);
    emit_kv_hex(&c->e, "maximum_size", "Max. Allocation Size:", h->maximum ? h->maximum : NTH_MAX_REQUEST, 8);
    emit_kv_hex(&c->e, "lock", "Lock Variable at:", address + offsetof(nth_heap, lock), ADDR_DIGITS);
    emit_kv_hex(&c->e, "virtual_alloc_list", "Virtual Alloc List:", (uintptr_t)h->big_list, ADDR_DIGITS);
    emit_kv_hex(&c->e, "lfh", "LFH (front end):", (uintptr_t)h->lfh, ADDR_DIGITS);
    char key[64];
    snprintf(key, sizeof key, "%016llx %016llx", (unsigned long long)h->key[0], (unsigned long long)h->key[1]);
    emit_kv_str(&c->e, "encoding_key", "Encoding key:", key);
    emit_kv_bool(&c->e, "terminate_on_corruption", "Termination on corr.:", h->terminate_on_corruption);
    uint32_t lists = 0;
    for (size_t w = 0; w < NTH_BITMAP_WORDS; w++) lists += (uint32_t)__builtin_popcountll(h->freelist_bitmap[w]);
    char text[128];
    snprintf(text, sizeof text, "%u of %u non-empty (ntheap: exact to 2 KiB, then 8 per power of two)", lists,
             NTH_FREE_LISTS);
    emit_kv_str(&c->e, "free_lists", "FreeLists:", text);
    c->e.label_width = 0;
}

static const emit_column entry_columns[] = {
    {"kind", EMIT_STR, NULL, NULL},
    {"address", EMIT_HEX, "%016" PRIx64 ": ", NULL},
    {"prev_size", EMIT_HEX, "%05" PRIx64 " . ", NULL},
    {"size", EMIT_HEX, "%05" PRIx64 " ", NULL},
    {"flags", EMIT_HEX, "[%03" PRIx64 "]", NULL},
    {"state", EMIT_STR, " - %s", ""},
    {"requested", EMIT_HEX, " (%" PRIx64 ")", NULL},
    {"note", EMIT_STR, " %s", ""},
};
static const emit_column free_columns[] = {
    {"kind", EMIT_STR, NULL, NULL},
    {"address", EMIT_HEX, "%016" PRIx64 ": ", NULL},
    {"prev_size", EMIT_HEX, "%05" PRIx64 " . ", NULL},
    {"size", EMIT_HEX, "%05" PRIx64 " ", NULL},
    {"flags", EMIT_HEX, "[%03" PRIx64 "]", NULL},
    {"state", EMIT_STR, NULL, NULL},
    {"requested", EMIT_HEX, NULL, NULL},
    {"note", EMIT_STR, " %s", ""},
};
static const emit_column lfh_columns[] = {
    {"kind", EMIT_STR, NULL, NULL},
    {"address", EMIT_HEX, "    %016" PRIx64 ": ", NULL},
    {"prev_size", EMIT_HEX, NULL, NULL},
    {"size", EMIT_HEX, "%05" PRIx64 " ", NULL},
    {"flags", EMIT_HEX, NULL, NULL},
    {"state", EMIT_STR, "- %s", ""},
    {"requested", EMIT_HEX, " (%" PRIx64 ")", NULL},
    {"note", EMIT_STR, NULL, ""},
};
static const emit_column lfh_free_columns[] = {
    {"kind", EMIT_STR, NULL, NULL},
    {"address", EMIT_HEX, "    %016" PRIx64 ": ", NULL},
    {"prev_size", EMIT_HEX, NULL, NULL},
    {"size", EMIT_HEX, "%05" PRIx64 " ", NULL},
    {"flags", EMIT_HEX, NULL, NULL},
    {"state", EMIT_STR, "- %s", ""},
    {"requested", EMIT_HEX, NULL, NULL},
    {"note", EMIT_STR, "%s", ""},
    {"blocks", EMIT_U64, NULL, NULL},
};
static const emit_column ucr_columns[] = {
    {"kind", EMIT_STR, NULL, NULL},
    {"address", EMIT_HEX, "%016" PRIx64 ":      ", NULL},
    {"prev_size", EMIT_HEX, NULL, NULL},
    {"size", EMIT_HEX, "%08" PRIx64 "      - uncommitted bytes.", NULL},
    {"flags", EMIT_HEX, NULL, NULL},
    {"state", EMIT_STR, NULL, ""},
    {"requested", EMIT_HEX, NULL, NULL},
    {"note", EMIT_STR, NULL, ""},
};

/* -hl: the slots of the subsegment being listed. The traversal returns its busy blocks in slot
 * order; the slots between them, below `bump`, were handed out before and are free now (their
 * busy bit is clear), and the slots from `bump` on were never handed out. */
typedef struct lfh_slots {
    bool active;
    nth_lfh_subsegment sub;
    uint32_t next;        /* the first slot not listed yet */
    uint32_t problems;    /* the traversal's problem count when the listing began */
} lfh_slots;

static void list_free_slots(heap_cli *c, const lfh_slots *l, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++) {
        uint64_t address = (uintptr_t)l->sub.first_block + (uintptr_t)i * l->sub.block_size;
        emit_record(&c->e, lfh_free_columns, 9, "        ", "lfh", address, (uint64_t)0, (uint64_t)l->sub.block_size,
                    (uint64_t)0, "free", (uint64_t)0, (const char *)NULL, (uint64_t)1);
    }
}

/* Ends the listing of a subsegment: its free slots after the last busy one, then one line for
 * the slots never handed out. Nothing is claimed free when the traversal met a problem in it. */
static void end_slots(heap_cli *c, lfh_slots *l, const nth_iter *it)
{
    if (!l->active) return;
    l->active = false;
    if (it->problems != l->problems) return;
    if (l->next < l->sub.bump) list_free_slots(c, l, l->next, l->sub.bump);
    if (l->sub.bump < l->sub.n_blocks) {
        char note[96];
        uint32_t n = l->sub.n_blocks - l->sub.bump;
        snprintf(note, sizeof note, ", never handed out (%u block%s to the end of the region)", n, n == 1 ? "" : "s");
        emit_record(&c->e, lfh_free_columns, 9, "        ", "lfh-untouched",
                    (uint64_t)((uintptr_t)l->sub.first_block + (uintptr_t)l->sub.bump * l->sub.block_size), (uint64_t)0,
                    (uint64_t)l->sub.block_size, (uint64_t)0, "free", (uint64_t)0, note, (uint64_t)n);
    }
}

static void list_heap(heap_cli *c, uintptr_t address)
{
    char heading[160];
    snprintf(heading, sizeof heading, "%3zu:   %016lx", heap_index_of(c, address), (unsigned long)address);
    emit_object_begin(&c->e, NULL, heading);
    emit_kv_hex(&c->e, "heap", NULL, address, ADDR_DIGITS);
    nth_heap h;
    if (!heap_read(c, address, &h)) {
        emit_object_end(&c->e);
        return;
    }
    nth_iter it;
    nth_walk_entry e;
    bool open = nth_iter_open(&it, nth_target_mem(c->target), address);
    /* segment lines first, as WinDbg prints them */
    emit_array_begin(&c->e, "segments");
    nth_iter seg_it;
    if (open && nth_iter_open(&seg_it, nth_target_mem(c->target), address))
        for (; nth_iter_next(&seg_it, &e);) {
            if (!(e.flags & NTH_ENTRY_REGION)) continue;
            uintptr_t base = (uintptr_t)e.data;
            emit_object_begin(&c->e, NULL, NULL);
            emit_kv_hex(&c->e, "base", NULL, base, ADDR_DIGITS);
            emit_kv_hex(&c->e, "end", NULL, base + e.u.region.reserved, ADDR_DIGITS);
            emit_kv_hex(&c->e, "committed", NULL, e.u.region.committed, 8);
            emit_text(&c->e, "    Segment at %016lx to %016lx (%08zx bytes committed)\n", (unsigned long)base,
                      (unsigned long)(base + e.u.region.reserved), e.u.region.committed);
            emit_object_end(&c->e);
            if (seg_it.phase == NTH_ITER_BLOCKS) { /* skip to the next segment quickly */
                seg_it.pos = (uintptr_t)seg_it.segment.limit;
                seg_it.ucr_next = seg_it.segment.n_ucr;
            }
        }
    emit_array_end(&c->e);
    c->e.indent = 4;
    print_parameters(c, address, &h);
    c->e.indent = 0;
    emit_array_begin(&c->e, "entries");
    bool in_lfh = false;
    lfh_slots slots = {0};
    while (open && nth_iter_next(&it, &e)) {
        if (!(e.flags & NTH_ENTRY_LFH)) end_slots(c, &slots, &it);
        if (e.flags & NTH_ENTRY_REGION) {
            emit_text(&c->e, "\n    Heap entries for Segment%02u in Heap %016lx\n"
                             "                 address: psize . size  flags   state (requested size)\n",
                      e.region_index, (unsigned long)address);
            continue;
        }
        if (e.flags & NTH_ENTRY_UNCOMMITTED) {
            if (in_lfh) emit_text(&c->e, "\n"), in_lfh = false;
            emit_record(&c->e, ucr_columns, 8, "        ", "uncommitted", (uint64_t)(uintptr_t)e.data, (uint64_t)0, (uint64_t)e.size, (uint64_t)0,
                     (const char *)NULL, (uint64_t)0, (const char *)NULL);
            continue;
        }
        if (e.flags & NTH_ENTRY_LFH) {
            if (!c->lfh_blocks) continue;
            uintptr_t offset = (uintptr_t)e.data - (uintptr_t)slots.sub.first_block;
            uint32_t slot = slots.sub.block_size ? (uint32_t)(offset / slots.sub.block_size) : 0;
            if (slots.active && slot >= slots.next && slot < slots.sub.bump) {
                list_free_slots(c, &slots, slots.next, slot);
                slots.next = slot + 1;
            }
            emit_record(&c->e, lfh_columns, 8, "        ", "lfh", (uint64_t)(uintptr_t)e.data, (uint64_t)0, (uint64_t)e.u.block.block_size, (uint64_t)1,
                     "busy", (uint64_t)e.size, (const char *)NULL);
            continue;
        }
        if (in_lfh) emit_text(&c->e, "\n"), in_lfh = false;
        bool big = e.flags & NTH_ENTRY_BIG;
        uint64_t prev = big ? 0 : (uint64_t)it.hdr.prev_size_gr * NTH_GRANULE;
        uint64_t flags = big ? (BLOCK_BUSY | BLOCK_BIG) : it.hdr.flags;
        const char *note = (e.flags & NTH_ENTRY_INTERNAL) ? ((flags & BLOCK_LFH) ? "Internal (LFH subsegment)" : "Internal")
                           : big                          ? "(big block, mapped on its own)"
                           : (e.flags & NTH_ENTRY_DAMAGED) ? "damaged: taken out of service"
                                                          : NULL;
        bool busy = e.flags & NTH_ENTRY_BUSY;
        emit_record(&c->e, busy ? entry_columns : free_columns, 8, "        ", big ? "big" : "block", (uint64_t)(uintptr_t)e.u.block.header, prev, (uint64_t)e.u.block.block_size,
                 flags, busy ? "busy" : "free",
                 busy ? (uint64_t)e.size : (uint64_t)0, note);
        if (c->lfh_blocks && it.phase == NTH_ITER_LFH) {
            emit_text(&c->e, "\n        LFH data region at %016lx (bucket %u, block size %x, %u blocks; its state is in\n"
                             "        the subsegment's own metadata mapping, not in headers)\n",
                      (unsigned long)(uintptr_t)it.sub.first_block, it.sub.bucket, it.sub.block_size, it.sub.n_blocks);
            in_lfh = true;
            slots = (lfh_slots){true, it.sub, 0, it.problems};
        }
    }
    end_slots(c, &slots, &it);
    emit_array_end(&c->e);
    emit_text(&c->e, "\n");
    heap_report_problems(c, address, &it);
    emit_object_end(&c->e);
}

int heap_view_entries(heap_cli *c)
{
    emit_text(&c->e, "Index   Address          Name      Debugging options enabled\n");
    emit_array_begin(&c->e, "heaps");
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++) {
        uintptr_t address = nth_target_heap_address(c->target, i);
        if (heap_selected(c, address)) list_heap(c, address);
    }
    emit_array_end(&c->e);
    return 0;
}

/* ------------------------------------------------------------------------ finding entries */


bool heap_find_entry(heap_cli *c, uintptr_t address, bool exact, found_entry *f)
{
    if (address == 0) return false; /* no block starts there; LFH slots have no header (0) to match */
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++) {
        uintptr_t heap = nth_target_heap_address(c->target, i);
        nth_iter it;
        nth_walk_entry e;
        if (!nth_iter_open(&it, nth_target_mem(c->target), heap)) continue;
        /* A back-end block that holds an LFH subsegment contains the subsegment's slots, and its
         * data address is slot 0's: it is kept as the answer only if no slot matches after it
         * (the walk lists a subsegment's slots right after its block). */
        bool hit = false, held = false;
        while (!hit && nth_iter_next(&it, &e)) {
            uintptr_t start, end, data = (uintptr_t)e.data;
            const char *what = "block";
            if (e.flags & NTH_ENTRY_REGION) start = data, end = (uintptr_t)e.u.region.first_block, what = "segment header";
            else if (e.flags & NTH_ENTRY_UNCOMMITTED) start = data, end = data + e.size, what = "uncommitted range";
            else if (e.flags & NTH_ENTRY_LFH) start = data, end = data + e.u.block.block_size;
            else if (e.flags & NTH_ENTRY_BIG) start = (uintptr_t)e.u.block.header, end = data + e.size;
            else start = (uintptr_t)e.u.block.header, end = start + e.u.block.block_size;
            hit = exact ? (!(e.flags & (NTH_ENTRY_REGION | NTH_ENTRY_UNCOMMITTED)) &&
                           (address == data || (e.u.block.header && address == (uintptr_t)e.u.block.header)))
                        : (address >= start && address < end);
            if (!hit) {
                if (held && !(e.flags & NTH_ENTRY_LFH)) break; /* past the subsegment's slots */
                continue;
            }
            bool subsegment_block = (e.flags & NTH_ENTRY_INTERNAL) && !(e.flags & NTH_ENTRY_LFH);
            if (subsegment_block) hit = false, held = true;
            *f = (found_entry){.heap = heap, .entry = e, .hdr = it.hdr, .segment = (uintptr_t)it.segment.owner.base,
                               .segment_first = (uintptr_t)it.segment.first_block, .start = start, .end = end, .what = what};
            if (e.flags & NTH_ENTRY_LFH) f->sub = it.sub;
            if (e.flags & NTH_ENTRY_BIG) f->segment = (data - NTH_BIG_HEADER_BYTES) & ~(uintptr_t)(NTH_CHUNK - 1);
            if (!(e.flags & (NTH_ENTRY_LFH | NTH_ENTRY_BIG | NTH_ENTRY_REGION | NTH_ENTRY_UNCOMMITTED)))
                (void)nth_target_read(c->target, (uintptr_t)e.u.block.header, f->raw, sizeof f->raw);
        }
        heap_report_problems(c, heap, &it);
        if (hit || held) return true;
    }
    return false;
}

static int not_found(heap_cli *c, uintptr_t address, const char *what)
{
    char text[160];
    snprintf(text, sizeof text, "%016lx is not %s of any ntheap heap of this target", (unsigned long)address, what);
    emit_kv_str(&c->e, "not_found", "ntheap: ", text);
    return 1;
}

int heap_view_block(heap_cli *c)
{
    found_entry f;
    if (!heap_find_entry(c, c->address, true, &f)) return not_found(c, c->address, "a block (header or data address)");
    const nth_walk_entry *e = &f.entry;
    bool lfh = e->flags & NTH_ENTRY_LFH, big = e->flags & NTH_ENTRY_BIG, busy = e->flags & NTH_ENTRY_BUSY;
    uintptr_t header = lfh ? (uintptr_t)e->data : (uintptr_t)e->u.block.header;
    char text[256], words[96];
    emit_text(&c->e, "Detailed information for block entry %016lx\n", (unsigned long)header);
    emit_kv_hex(&c->e, "entry", NULL, header, ADDR_DIGITS);
    snprintf(text, sizeof text, "0x%016lx (the heap whose segment holds the block)", (unsigned long)f.heap);
    emit_kv_hex(&c->e, "heap", NULL, f.heap, ADDR_DIGITS);
    emit_kv_str(&c->e, NULL, "Assumed heap       : ", text);
    if (!lfh && !big) {
        uint64_t w[2], d[2];
        memcpy(w, f.raw, sizeof w);
        memcpy(d, &f.hdr, sizeof d);
        snprintf(text, sizeof text, "0x%016llx 0x%016llx (decoded : 0x%016llx 0x%016llx)", (unsigned long long)w[0],
                 (unsigned long long)w[1], (unsigned long long)d[0], (unsigned long long)d[1]);
        emit_kv_str(&c->e, "header_content", "Header content     : ", text);
        snprintf(text, sizeof text, "0x%016lx (offset %lx)", (unsigned long)f.segment,
                 (unsigned long)(header - f.segment));
        emit_kv_hex(&c->e, "segment", NULL, f.segment, ADDR_DIGITS);
        emit_kv_str(&c->e, NULL, "Owning segment     : ", text);
    } else if (lfh) {
        emit_kv_str(&c->e, "header_content", "Header content     : ",
                    "none (ntheap's LFH blocks have no header; busy bits and unused bytes are in the subsegment)");
    } else {
        emit_kv_str(&c->e, "header_content", "Header content     : ",
                    "the record kept apart from the mapping (ntheap's big-block record is the trusted copy)");
    }
    snprintf(text, sizeof text, "0x%x (%s)", lfh ? (busy ? 1u : 0u) : (unsigned)(big ? BLOCK_BUSY | BLOCK_BIG : f.hdr.flags),
             heap_flag_words(e, words, sizeof words));
    emit_kv_str(&c->e, "flags", "Block flags        : ", text);
    uint64_t size = e->u.block.block_size;
    snprintf(text, sizeof text, "0x%llx units (0x%llx bytes)", (unsigned long long)(size / NTH_GRANULE),
             (unsigned long long)size);
    emit_kv_u64(&c->e, "block_size", NULL, size);
    emit_kv_str(&c->e, NULL, "Total block size   : ", text);
    if (busy) {
        snprintf(text, sizeof text, "0x%zx bytes (unused 0x%x bytes)", e->size, e->overhead);
        emit_kv_u64(&c->e, "requested", NULL, e->size);
        emit_kv_u64(&c->e, "unused", NULL, e->overhead);
        emit_kv_str(&c->e, NULL, "Requested size     : ", text);
    }
    if (!lfh && !big) {
        uint64_t prev = (uint64_t)f.hdr.prev_size_gr * NTH_GRANULE;
        snprintf(text, sizeof text, "0x%llx units (0x%llx bytes)", (unsigned long long)f.hdr.prev_size_gr,
                 (unsigned long long)prev);
        emit_kv_u64(&c->e, "previous_size", NULL, prev);
        emit_kv_str(&c->e, NULL, "Previous block size: ", text);
        emit_kv_str(&c->e, "check", "Block check        : ", "OK (the 32-bit check word binds the header to its address)");
        if (prev) emit_kv_hex(&c->e, "previous_block", "Previous block     : ", header - prev, ADDR_DIGITS);
        emit_kv_hex(&c->e, "next_block", "Next block         : ", header + size, ADDR_DIGITS);
    }
    if (lfh) {
        uint32_t index = (uint32_t)(((uintptr_t)e->data - (uintptr_t)f.sub.first_block) / f.sub.block_size);
        snprintf(text, sizeof text, "user area 0x%016lx, bucket %u (block size 0x%x), block %u of %u",
                 (unsigned long)(uintptr_t)f.sub.first_block, f.sub.bucket, f.sub.block_size, index, f.sub.n_blocks);
        emit_kv_hex(&c->e, "subsegment_area", NULL, (uintptr_t)f.sub.first_block, ADDR_DIGITS);
        emit_kv_u64(&c->e, "bucket", NULL, f.sub.bucket);
        emit_kv_u64(&c->e, "slot", NULL, index);
        emit_kv_str(&c->e, NULL, "Subsegment         : ", text);
    }
    return 0;
}

int heap_view_containing(heap_cli *c)
{
    found_entry f;
    if (!heap_find_entry(c, c->address, false, &f)) return not_found(c, c->address, "inside");
    const nth_walk_entry *e = &f.entry;
    char words[96];
    bool block = strcmp(f.what, "block") == 0;
    static const emit_column columns[] = HEAP_ENTRY_COLUMNS("what", EMIT_STR);
    emit_table_begin(&c->e, "entries", HEAP_ENTRY_HEADING, columns, 9, NULL);
    uint64_t size = block ? e->u.block.block_size : f.end - f.start;
    uint64_t prev = block && !(e->flags & (NTH_ENTRY_LFH | NTH_ENTRY_BIG)) ? (uint64_t)f.hdr.prev_size_gr * NTH_GRANULE : 0;
    const char *flags = block ? heap_flag_words(e, words, sizeof words) : f.what;
    emit_row(&c->e, (uint64_t)(block && !(e->flags & NTH_ENTRY_LFH) ? (uintptr_t)e->u.block.header : f.start),
             (uint64_t)(block ? (uintptr_t)e->data : 0), (uint64_t)f.heap, (uint64_t)f.segment, size, prev,
             (uint64_t)(block && (e->flags & NTH_ENTRY_BUSY) ? e->overhead : 0), flags, f.what);
    emit_table_end(&c->e);
    if (e->flags & NTH_ENTRY_LFH)
        emit_text(&c->e, "(LFH block: the Segment column is the segment holding its subsegment, user area %016lx)\n",
                  (unsigned long)(uintptr_t)f.sub.first_block);
    return 0;
}
