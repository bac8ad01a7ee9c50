/*
 * hn.c — reading a Heap-on-Node: page headers, page maps, HIDs, allocations, fill levels.
 *
 * An HN lives in the data blocks of one node; block i is page i. Every page:
 *
 *     +---------------------+-----------------------------+-----+--------------------------+
 *     | page header         | allocations, back to back   | pad | HNPAGEMAP                |
 *     | 12 / 66 / 2 bytes   | slot 1, slot 2, ...         | 0-1 | cAlloc cFree rgibAlloc[] |
 *     +---------------------+-----------------------------+-----+--------------------------+
 *     0                     rgibAlloc[0]      rgibAlloc[cAlloc]  ibHnpm                 end
 *
 *     HNHDR (page 0, 12 bytes):   0 ibHnpm(2)  2 bSig 0xEC  3 bClientSig
 *                                 4 hidUserRoot(4)  8 rgbFillLevel[4]  (pages 0..7)
 *     HNBITMAPHDR (pages 8, 136, 264, ... 66 bytes): 0 ibHnpm(2)  2 rgbFillLevel[64]
 *                                 (the page itself and the 127 after it)
 *     HNPAGEHDR (every other page, 2 bytes): 0 ibHnpm(2)
 *     HNPAGEMAP: 0 cAlloc(2)  2 cFree(2)  4 rgibAlloc[cAlloc + 1] (2 each)
 *
 * Slot k (1-based) spans [rgibAlloc[k-1], rgibAlloc[k]); a zero-length slot is a freed one.
 * Fill levels are nibbles: entry j of a group sits in byte j/2, low nibble when j is even.
 *
 *     HID:  bits 31..16 hidBlockIndex (page) | 15..5 hidIndex (slot, from 1) | 4..0 hidType 0
 *
 * Invariant (checked by pst_hn_check_page before any other code looks at a page): the header
 * fits, ibHnpm + map lie inside the page, every rgibAlloc entry lies in [header, ibHnpm] and
 * they never decrease. Everything else (exact map position, cFree, padding, fill levels) is
 * left to nth_pst_hn_validate, so damaged but readable heaps can still be walked.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t pst_hn_header_size(size_t page)
{
    if (page == 0) return 12;
    if (page >= 8 && (page - 8) % 128 == 0) return 66;
    return 2;
}

void pst_hn_fill_slot(size_t page, size_t *holder, size_t *byte, unsigned *shift)
{
    if (page < 8) {
        *holder = 0;
        *byte = 8 + page / 2;
        *shift = (page & 1) ? 4 : 0;
        return;
    }
    size_t k = (page - 8) % 128;
    *holder = page - k;
    *byte = 2 + k / 2;
    *shift = (k & 1) ? 4 : 0;
}

uint8_t nth_pst_fill_level(size_t free_bytes)
{
    static const size_t bounds[15] = {3584, 2560, 2048, 1792, 1536, 1280, 1024, 768,
                                      512,  256,  128,  64,   32,   16,   8};
    for (uint8_t i = 0; i < 15; i++)
        if (free_bytes >= bounds[i]) return i;
    return 15;
}

uint8_t pst_hn_fill_get(const nth_pst_hn *hn, size_t page)
{
    size_t holder, byte;
    unsigned shift;
    pst_hn_fill_slot(page, &holder, &byte, &shift);
    return (uint8_t)((hn->pages[holder].data[byte] >> shift) & 0xF);
}

nth_pst_status pst_hn_check_page(const uint8_t *p, size_t size, size_t index, uint64_t where,
                                 nth_pst_error *err)
{
    size_t hdr = pst_hn_header_size(index);
    const char *hname = index == 0 ? "HNHDR" : hdr == 66 ? "HNBITMAPHDR" : "HNPAGEHDR";
    if (size < hdr + 4)
        return pst_fail(err, NTH_PST_E_CORRUPT, hname, where,
                        "page %zu has %zu bytes, too few for its %zu-byte header and a page map",
                        index, size, hdr);
    if (index == 0 && p[2] != NTH_PST_HN_SIG)
        return pst_fail(err, NTH_PST_E_CORRUPT, hname, where, "bSig is 0x%02X, not 0xEC", p[2]);
    size_t ib = rd16(p);
    uint64_t map_at = where == NTH_PST_NO_OFFSET ? where : where + ib;
    if (ib < hdr || ib + 4 > size)
        return pst_fail(err, NTH_PST_E_CORRUPT, hname, where,
                        "page %zu: ibHnpm 0x%zX is outside [0x%zX, 0x%zX]", index, ib, hdr,
                        size - 4);
    size_t count = rd16(p + ib);
    if (ib + 4 + 2 * (count + 1) > size)
        return pst_fail(err, NTH_PST_E_CORRUPT, "HNPAGEMAP", map_at,
                        "page %zu: cAlloc %zu makes the map end past the page's %zu bytes", index,
                        count, size);
    size_t prev = hdr;
    for (size_t k = 0; k <= count; k++) {
        size_t off = rd16(p + ib + 4 + 2 * k);
        if (off < prev || off > ib)
            return pst_fail(err, NTH_PST_E_CORRUPT, "HNPAGEMAP", map_at,
                            "page %zu: rgibAlloc[%zu] = 0x%zX is %s", index, k, off,
                            off > ib ? "past ibHnpm"
                                     : k ? "below the previous offset" : "inside the page header");
        prev = off;
    }
    return NTH_PST_OK;
}

nth_pst_status pst_hn_parse(const uint8_t *const *pages, const size_t *sizes, const uint64_t *ibs,
                            const uint64_t *bids, size_t count, bool unicode, nth_pst_hn **out,
                            nth_pst_error *err)
{
    *out = NULL;
    uint64_t first = ibs ? ibs[0] : NTH_PST_NO_OFFSET;
    if (count == 0) return pst_fail(err, NTH_PST_E_CORRUPT, "HNHDR", first, "the HN has no data");
    if (count > NTH_PST_HN_PAGES_MAX)
        return pst_fail(err, NTH_PST_E_CORRUPT, "HNHDR", first,
                        "%zu data blocks, more than an HN can address", count);
    for (size_t i = 0; i < count; i++) {
        nth_pst_status st = pst_hn_check_page(pages[i], sizes[i], i,
                                              ibs ? ibs[i] : NTH_PST_NO_OFFSET, err);
        if (st) return st;
    }
    nth_pst_hn *hn = calloc(1, sizeof *hn);
    if (!hn) return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", first, "out of memory");
    hn->unicode = unicode;
    hn->page_max = pst_page_max(unicode);
    hn->pages = calloc(count, sizeof *hn->pages);
    hn->cap = count;
    if (!hn->pages) {
        free(hn);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", first, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        pst_hn_pagebuf *pg = &hn->pages[i];
        pg->cap = sizes[i] > hn->page_max ? sizes[i] : hn->page_max;
        pg->data = malloc(pg->cap);
        if (!pg->data) {
            nth_pst_hn_close(hn);
            return pst_fail(err, NTH_PST_E_NO_MEMORY, "HN", first, "out of memory");
        }
        memcpy(pg->data, pages[i], sizes[i]);
        pg->size = sizes[i];
        pg->ib = ibs ? ibs[i] : NTH_PST_NO_OFFSET;
        pg->bid = bids ? bids[i] : 0;
        hn->count++;
    }
    *out = hn;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_hn_from_pages(const uint8_t *const *pages, const size_t *sizes,
                                     size_t count, bool unicode, nth_pst_hn **out,
                                     nth_pst_error *err)
{
    return pst_hn_parse(pages, sizes, NULL, NULL, count, unicode, out, err);
}

nth_pst_status nth_pst_hn_load(nth_pst_file *file, uint64_t bid_data, nth_pst_hn **out,
                               nth_pst_error *err)
{
    *out = NULL;
    nth_pst_blocks b;
    nth_pst_status st = nth_pst_read_data(file, bid_data, &b, err);
    if (st) return st;
    st = pst_hn_parse((const uint8_t *const *)b.data, b.size, b.ib, b.bid, b.count,
                      file->lay.unicode, out, err);
    nth_pst_blocks_free(&b);
    return st;
}

void nth_pst_hn_close(nth_pst_hn *hn)
{
    if (!hn) return;
    for (size_t i = 0; i < hn->count; i++) free(hn->pages[i].data);
    free(hn->pages);
    free(hn);
}

uint8_t nth_pst_hn_client_sig(const nth_pst_hn *hn) { return hn->pages[0].data[3]; }

uint32_t nth_pst_hn_user_root(const nth_pst_hn *hn) { return rd32(hn->pages[0].data + 4); }

void nth_pst_hn_set_user_root(nth_pst_hn *hn, uint32_t hid) { wr32(hn->pages[0].data + 4, hid); }

bool nth_pst_hn_is_unicode(const nth_pst_hn *hn) { return hn->unicode; }

size_t nth_pst_hn_page_count(const nth_pst_hn *hn) { return hn->count; }

nth_pst_status nth_pst_hn_page_info(const nth_pst_hn *hn, size_t page, nth_pst_hn_page *out)
{
    if (page >= hn->count) return NTH_PST_E_NOT_FOUND;
    const pst_hn_pagebuf *pg = &hn->pages[page];
    const uint8_t *p = pg->data;
    memset(out, 0, sizeof *out);
    out->size = pg->size;
    out->header_size = pst_hn_header_size(page);
    out->ib_hnpm = rd16(p);
    out->alloc_count = pst_hn_map_count(p);
    out->free_count = pst_hn_map_free(p);
    out->used = (size_t)pst_hn_map_ib(p, out->alloc_count) - pst_hn_map_ib(p, 0);
    out->fill_level = pst_hn_fill_get(hn, page);
    out->fill_level_actual = nth_pst_fill_level(pg->size < hn->page_max ? hn->page_max - pg->size : 0);
    out->ib = pg->ib;
    out->bid = pg->bid;
    return NTH_PST_OK;
}

const uint8_t *nth_pst_hn_page_data(const nth_pst_hn *hn, size_t page, size_t *size)
{
    if (page >= hn->count) {
        if (size) *size = 0;
        return NULL;
    }
    if (size) *size = hn->pages[page].size;
    return hn->pages[page].data;
}

size_t nth_pst_hn_alloc_count(const nth_pst_hn *hn)
{
    size_t n = 0;
    for (size_t i = 0; i < hn->count; i++) n += pst_hn_map_count(hn->pages[i].data);
    return n;
}

nth_pst_status nth_pst_hn_alloc_at(const nth_pst_hn *hn, size_t index, nth_pst_hn_slot *out)
{
    for (size_t i = 0; i < hn->count; i++) {
        const uint8_t *p = hn->pages[i].data;
        size_t n = pst_hn_map_count(p);
        if (index >= n) {
            index -= n;
            continue;
        }
        size_t slot = index + 1;
        out->page = (uint32_t)i;
        out->slot = (uint32_t)slot;
        out->hid = nth_pst_hid_make((uint32_t)i, (uint32_t)slot);
        out->offset = pst_hn_map_ib(p, slot - 1);
        out->size = (size_t)pst_hn_map_ib(p, slot) - out->offset;
        out->freed = out->size == 0;
        return NTH_PST_OK;
    }
    return NTH_PST_E_NOT_FOUND;
}

nth_pst_status nth_pst_hn_get(const nth_pst_hn *hn, uint32_t hid, const uint8_t **data,
                              size_t *size, nth_pst_error *err)
{
    *data = NULL;
    *size = 0;
    uint32_t page = nth_pst_hid_page(hid), slot = nth_pst_hid_slot(hid);
    uint64_t where = page < hn->count ? hn->pages[page].ib : NTH_PST_NO_OFFSET;
    if (nth_pst_hid_type(hid) != 0 || slot == 0)
        return pst_fail(err, NTH_PST_E_INVALID, "HID", where,
                        "HID 0x%X is malformed (hidType %u, hidIndex %u)", hid,
                        nth_pst_hid_type(hid), slot);
    if (page >= hn->count)
        return pst_fail(err, NTH_PST_E_NOT_FOUND, "HID", where,
                        "HID 0x%X names page %u but the HN has %zu", hid, page, hn->count);
    const uint8_t *p = hn->pages[page].data;
    size_t count = pst_hn_map_count(p);
    if (slot > count)
        return pst_fail(err, NTH_PST_E_NOT_FOUND, "HID", where,
                        "HID 0x%X names slot %u but page %u has %zu", hid, slot, page, count);
    size_t begin = pst_hn_map_ib(p, slot - 1), end = pst_hn_map_ib(p, slot);
    if (begin == end)
        return pst_fail(err, NTH_PST_E_INVALID, "HID", where, "HID 0x%X is a freed slot", hid);
    *data = p + begin;
    *size = end - begin;
    return NTH_PST_OK;
}
