/*
 * hn_write.c — allocating, freeing and reallocating inside a Heap-on-Node.
 *
 * Every change rebuilds the one page it touches from its slots, so the page always comes out
 * in canonical form:
 *
 *     before:  | hdr | s1 | s2 | s3 | pad | map(3) |
 *     free s2: | hdr | s1 | s3 | pad | map(3, cFree 1) |        s2 stays as a zero-length slot
 *     alloc:   | hdr | s1 | new | s3 | pad | map(3, cFree 0) |  the lowest freed slot is reused
 *     alloc:   | hdr | s1 | s2 | s3 | s4 | pad | map(4) |        else a slot is appended
 *
 * Rules kept (MS-PST §2.3.1 and what real files show):
 *   - one allocation holds at most 3580 bytes; size 0 is HID 0 and stores nothing;
 *   - a freed slot keeps its index so every other HID stays valid; cFree counts them;
 *   - the map starts at the next even offset after the last allocation;
 *   - a page holds at most 8176 (Unicode) / 8180 (ANSI) bytes and 2047 slots;
 *   - when no page has room, a page is appended: an HNBITMAPHDR page when its index i is 8,
 *     136, 264, ... (i >= 8 and (i - 8) % 128 == 0), otherwise an HNPAGEHDR page;
 *   - after every change the fill level of the changed page is recomputed from its free bytes
 *     and stored in its nibble (HNHDR for pages 0..7, else the group's HNBITMAPHDR).
 * The page map is the truth when looking for room; fill levels are only written, never
 * trusted.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void fill_set(nth_pst_hn *hn, size_t page)
{
    const pst_hn_pagebuf *pg = &hn->pages[page];
    size_t free_bytes = pg->size < hn->page_max ? hn->page_max - pg->size : 0;
    uint8_t level = nth_pst_fill_level(free_bytes);
    size_t holder, byte;
    unsigned shift;
    pst_hn_fill_slot(page, &holder, &byte, &shift);
    uint8_t *b = &hn->pages[holder].data[byte];
    *b = (uint8_t)((*b & ~(0xF << shift)) | (level << shift));
}

static size_t slot_len(const uint8_t *p, size_t slot)
{
    return (size_t)pst_hn_map_ib(p, slot) - pst_hn_map_ib(p, slot - 1);
}

/* Size page `pi` would have if slot `slot` (1-based; cAlloc + 1 appends) held `len` bytes. */
static size_t size_with(const nth_pst_hn *hn, size_t pi, size_t slot, size_t len)
{
    const uint8_t *p = hn->pages[pi].data;
    size_t count = pst_hn_map_count(p);
    size_t used = (size_t)pst_hn_map_ib(p, count) - pst_hn_map_ib(p, 0);
    size_t old = slot <= count ? slot_len(p, slot) : 0;
    size_t n = slot > count ? count + 1 : count;
    size_t end = pst_hn_header_size(pi) + used - old + len;
    end += end & 1;
    return end + 4 + 2 * (n + 1);
}

/* Rewrites page pi with slot `slot` holding bytes[0..len) (which may point into the page). */
static nth_pst_status rebuild(nth_pst_hn *hn, size_t pi, size_t slot, const uint8_t *bytes,
                              size_t len, nth_pst_error *err)
{
    pst_hn_pagebuf *pg = &hn->pages[pi];
    const uint8_t *p = pg->data;
    size_t count = pst_hn_map_count(p);
    size_t n = slot > count ? count + 1 : count;
    size_t hdr = pst_hn_header_size(pi);
    size_t need = size_with(hn, pi, slot, len);
    if (need > hn->page_max || n > NTH_PST_HN_SLOTS_MAX)
        return pst_fail(err, NTH_PST_E_FULL, "HNPAGEMAP", pg->ib, "page %zu has no room", pi);
    uint8_t *out = calloc(1, pg->cap > need ? pg->cap : need);
    uint16_t *offs = malloc((n + 1) * sizeof *offs);
    if (!out || !offs) {
        free(out);
        free(offs);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN page", pg->ib, "out of memory");
    }
    memcpy(out, p, hdr);
    size_t at = hdr, freed = 0;
    for (size_t k = 1; k <= n; k++) {
        offs[k - 1] = (uint16_t)at;
        const uint8_t *src;
        size_t sz;
        if (k == slot) {
            src = bytes;
            sz = len;
        } else {
            src = p + pst_hn_map_ib(p, k - 1);
            sz = slot_len(p, k);
        }
        if (sz) memcpy(out + at, src, sz);
        else freed++;
        at += sz;
    }
    offs[n] = (uint16_t)at;
    at += at & 1;
    wr16(out, (uint16_t)at);
    wr16(out + at, (uint16_t)n);
    wr16(out + at + 2, (uint16_t)freed);
    for (size_t k = 0; k <= n; k++) wr16(out + at + 4 + 2 * k, offs[k]);
    free(offs);
    free(pg->data);
    pg->data = out;
    pg->cap = pg->cap > need ? pg->cap : need;
    pg->size = need;
    fill_set(hn, pi);
    return NTH_PST_OK;
}

static nth_pst_status add_page(nth_pst_hn *hn, nth_pst_error *err)
{
    if (hn->count >= NTH_PST_HN_PAGES_MAX)
        return pst_fail(err, NTH_PST_E_FULL, "HN", NTH_PST_NO_OFFSET,
                        "the HN already has the maximum of 65536 pages");
    if (hn->count == hn->cap) {
        size_t cap = hn->cap ? hn->cap * 2 : 4;
        pst_hn_pagebuf *pages = realloc(hn->pages, cap * sizeof *pages);
        if (!pages) return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", NTH_PST_NO_OFFSET, "out of memory");
        hn->pages = pages;
        hn->cap = cap;
    }
    size_t index = hn->count, hdr = pst_hn_header_size(index);
    pst_hn_pagebuf *pg = &hn->pages[index];
    memset(pg, 0, sizeof *pg);
    pg->cap = hn->page_max;
    pg->data = calloc(1, pg->cap);
    if (!pg->data) return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", NTH_PST_NO_OFFSET, "out of memory");
    pg->ib = NTH_PST_NO_OFFSET;
    /* header (zeros but ibHnpm), then an empty map: cAlloc 0, cFree 0, rgibAlloc[0] = hdr */
    wr16(pg->data, (uint16_t)hdr);
    wr16(pg->data + hdr + 4, (uint16_t)hdr);
    pg->size = hdr + 6;
    hn->count++;
    fill_set(hn, index);
    return NTH_PST_OK;
}

nth_pst_status nth_pst_hn_create(uint8_t client_sig, bool unicode, nth_pst_hn **out,
                                 nth_pst_error *err)
{
    *out = NULL;
    nth_pst_hn *hn = calloc(1, sizeof *hn);
    if (!hn) return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", NTH_PST_NO_OFFSET, "out of memory");
    hn->unicode = unicode;
    hn->page_max = pst_page_max(unicode);
    nth_pst_status st = add_page(hn, err);
    if (st) {
        nth_pst_hn_close(hn);
        return st;
    }
    hn->pages[0].data[2] = NTH_PST_HN_SIG;
    hn->pages[0].data[3] = client_sig;
    *out = hn;
    return NTH_PST_OK;
}

/* Lowest zero-length slot of a page, or 0. The map's cFree says whether to look: a page without
 * freed slots (most of them, as a heap fills) costs no walk over its up to 2047 slots, which made
 * filling a heap quadratic. A wrong cFree costs room, never correctness: 0 appends a slot, a
 * count with no freed slot behind it finds none. */
static size_t freed_slot(const uint8_t *p)
{
    if (pst_hn_map_free(p) == 0) return 0;
    size_t count = pst_hn_map_count(p);
    for (size_t k = 1; k <= count; k++)
        if (slot_len(p, k) == 0) return k;
    return 0;
}

static nth_pst_status place(nth_pst_hn *hn, const uint8_t *bytes, size_t size, uint32_t *hid,
                            nth_pst_error *err)
{
    for (size_t pi = 0; pi < hn->count; pi++) {
        const uint8_t *p = hn->pages[pi].data;
        size_t slot = freed_slot(p);
        if (!slot) {
            slot = (size_t)pst_hn_map_count(p) + 1;
            if (slot > NTH_PST_HN_SLOTS_MAX) continue;
        }
        if (size_with(hn, pi, slot, size) > hn->page_max) continue;
        nth_pst_status st = rebuild(hn, pi, slot, bytes, size, err);
        if (st) return st;
        *hid = nth_pst_hid_make((uint32_t)pi, (uint32_t)slot);
        return NTH_PST_OK;
    }
    nth_pst_status st = add_page(hn, err);
    if (st) return st;
    st = rebuild(hn, hn->count - 1, 1, bytes, size, err);
    if (st) return st;
    *hid = nth_pst_hid_make((uint32_t)(hn->count - 1), 1);
    return NTH_PST_OK;
}

nth_pst_status nth_pst_hn_alloc(nth_pst_hn *hn, const void *data, size_t size, uint32_t *hid,
                                nth_pst_error *err)
{
    *hid = 0;
    if (size == 0) return NTH_PST_OK;
    if (size > NTH_PST_HN_ALLOC_MAX)
        return pst_fail(err, NTH_PST_E_INVALID, "HN", NTH_PST_NO_OFFSET,
                        "an allocation of %zu bytes exceeds the HN limit of 3580", size);
    uint8_t *zeros = NULL;
    if (!data) {
        zeros = calloc(1, size);
        if (!zeros) return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", NTH_PST_NO_OFFSET, "out of memory");
    }
    nth_pst_status st = place(hn, data ? data : zeros, size, hid, err);
    free(zeros);
    return st;
}

nth_pst_status nth_pst_hn_free(nth_pst_hn *hn, uint32_t hid, nth_pst_error *err)
{
    const uint8_t *d;
    size_t n;
    nth_pst_status st = nth_pst_hn_get(hn, hid, &d, &n, err);
    if (st) return st;
    return rebuild(hn, nth_pst_hid_page(hid), nth_pst_hid_slot(hid), NULL, 0, err);
}

nth_pst_status nth_pst_hn_realloc(nth_pst_hn *hn, uint32_t hid, const void *data, size_t size,
                                  uint32_t *new_hid, nth_pst_error *err)
{
    *new_hid = hid;
    if (hid == 0) return nth_pst_hn_alloc(hn, data, size, new_hid, err);
    const uint8_t *old;
    size_t old_size;
    nth_pst_status st = nth_pst_hn_get(hn, hid, &old, &old_size, err);
    if (st) return st;
    if (size == 0) {
        st = nth_pst_hn_free(hn, hid, err);
        if (!st) *new_hid = 0;
        return st;
    }
    if (size > NTH_PST_HN_ALLOC_MAX)
        return pst_fail(err, NTH_PST_E_INVALID, "HN", NTH_PST_NO_OFFSET,
                        "an allocation of %zu bytes exceeds the HN limit of 3580", size);
    uint8_t *bytes = calloc(1, size);
    if (!bytes) return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", NTH_PST_NO_OFFSET, "out of memory");
    if (data)
        memcpy(bytes, data, size);
    else
        memcpy(bytes, old, old_size < size ? old_size : size);
    size_t pi = nth_pst_hid_page(hid), slot = nth_pst_hid_slot(hid);
    if (size_with(hn, pi, slot, size) <= hn->page_max) {
        st = rebuild(hn, pi, slot, bytes, size, err);
    } else {
        uint32_t moved;
        st = place(hn, bytes, size, &moved, err);
        if (!st) st = rebuild(hn, pi, slot, NULL, 0, err);
        if (!st) *new_hid = moved;
    }
    free(bytes);
    return st;
}
