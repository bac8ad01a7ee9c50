/*
 * space.c — space in a PST being edited in memory: the allocation maps, growing the file,
 * sealing pages and blocks, the next BIDs and storing the header.
 *
 *     0x4400        AMap 0 (+ PMap at 0x4600)    covers 0x4400 .. 0x42400
 *     0x42400       AMap 1                       covers 0x42400 .. 0x80400
 *     ...           AMap k (PMap after it when k % 8 == 0)
 *     ibFileEof  == end of the last AMap's coverage; ROOT.ibAMapLast = offset of the last AMap
 *
 * Allocation is first fit over the AMaps' bits (blocks on 64-byte units, pages on 512-byte
 * ones); when no AMap has room the file grows by one AMap span, whose map page (and PMap page)
 * is written and marked in use first. A file whose ROOT.fAMapValid is clear has maps nobody
 * vouches for: its existing free bits are not trusted, space only comes from new spans.
 * Growth stops at 128 AMaps: past them the format needs FMap/FPMap pages, not written here.
 * The DList (density list, the page at 0x4200 when present) only hints which AMap has room;
 * after an edit moved blocks its hints are stale, so it is emptied (cEntDList 0, same BID),
 * and new page BIDs stay above its BID (Outlook gives it the value of bidNextP).
 */
#include <stdlib.h>
#include <string.h>

#include "edit.h"

static unsigned bits_at(const pst_layout *L) { return L->unicode ? 0 : 4; }

/* Number of AMap pages the file has (0x4400 .. ibAMapLast, inside the file). */
static uint64_t amap_count(const nth_pst_file *f)
{
    const nth_pst_info *in = &f->info;
    if (in->amap_last < PST_AMAP_FIRST || (in->amap_last - PST_AMAP_FIRST) % PST_AMAP_SPAN)
        return 0;
    uint64_t n = (in->amap_last - PST_AMAP_FIRST) / PST_AMAP_SPAN + 1;
    while (n && PST_AMAP_FIRST + (n - 1) * PST_AMAP_SPAN + PST_PAGE_SIZE > f->size) n--;
    return n;
}

static uint8_t *amap_bits(nth_pst_file *f, uint64_t k)
{
    return f->mem + PST_AMAP_FIRST + k * PST_AMAP_SPAN + bits_at(&f->lay);
}

static bool bit_get(const uint8_t *bits, uint64_t i) { return bits[i / 8] & (0x80u >> (i % 8)); }

static void bits_set(uint8_t *bits, uint64_t from, uint64_t n, bool on)
{
    for (uint64_t i = from; i < from + n; i++) {
        if (on)
            bits[i / 8] |= (uint8_t)(0x80u >> (i % 8));
        else
            bits[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    }
}

/* The CRC and BID of a page or block trailer t, in the order of the file's format. */
static void put_crc_and_bid(const pst_layout *L, uint8_t *t, uint32_t crc, uint64_t bid)
{
    if (L->unicode) {
        wr32(t + 4, crc);
        wr64(t + 8, bid);
    } else {
        wr32(t + 4, (uint32_t)bid);
        wr32(t + 8, crc);
    }
}

void pst_page_seal(nth_pst_file *f, uint64_t ib, uint8_t ptype, uint64_t bid)
{
    const pst_layout *L = &f->lay;
    uint8_t *p = f->mem + ib, *t = p + L->page_data;
    bool map = ptype == PST_PTYPE_AMAP || ptype == PST_PTYPE_PMAP;
    t[0] = t[1] = ptype;
    wr16(t + 2, map ? 0 : nth_pst_block_signature(ib, bid));
    put_crc_and_bid(L, t, nth_pst_crc(0, p, L->page_data), bid);
}

void pst_block_put(nth_pst_file *f, uint64_t ib, uint64_t bid, const uint8_t *data, size_t cb)
{
    const pst_layout *L = &f->lay;
    size_t total = pst_block_total(L, cb);
    uint8_t *b = f->mem + ib;
    memset(b, 0, total);
    memcpy(b, data, cb);
    uint8_t *t = b + total - L->block_trailer;
    wr16(t, (uint16_t)cb);
    wr16(t + 2, nth_pst_block_signature(ib, bid));
    put_crc_and_bid(L, t, nth_pst_crc(0, b, cb), bid);
}

/* Appends one AMap span to the file: the AMap page (and a PMap page after every 8th). */
static nth_pst_status grow(nth_pst_file *f, nth_pst_error *err)
{
    nth_pst_info *in = &f->info;
    uint64_t k = amap_count(f);
    if (k == 0)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "ROOT", NTH_PST_NO_OFFSET,
                        "ibAMapLast 0x%llx names no AMap page: the file cannot be grown",
                        (unsigned long long)in->amap_last);
    if (k >= PST_AMAP_MAX)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "ROOT", NTH_PST_NO_OFFSET,
                        "the file has %llu AMaps; growing it further needs FMap pages, which "
                        "this library does not write", (unsigned long long)k);
    uint64_t at = PST_AMAP_FIRST + k * PST_AMAP_SPAN, end = at + PST_AMAP_SPAN;
    if (f->size > at)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "ROOT", NTH_PST_NO_OFFSET,
                        "the file holds bytes past its last AMap's coverage (0x%llx)",
                        (unsigned long long)at);
    if (!f->lay.unicode && end > UINT32_MAX)
        return pst_fail(err, NTH_PST_E_FULL, "ROOT", NTH_PST_NO_OFFSET,
                        "an ANSI file cannot grow past 4 GiB");
    uint8_t *mem = realloc(f->mem, (size_t)end);
    if (!mem) return pst_fail(err, NTH_PST_E_NO_MEMORY, "file", at, "out of memory");
    memset(mem + f->size, 0, (size_t)(end - f->size));
    f->mem = mem;
    f->size = end;
    in->file_size = end;
    in->file_eof = end;
    in->amap_last = at;
    uint8_t *bits = amap_bits(f, k);
    bits_set(bits, 0, PST_PAGE_SIZE / 64, true);
    if (k % 8 == 0) {
        uint64_t pmap = at + PST_PAGE_SIZE;
        memset(f->mem + pmap, 0xFF, f->lay.page_data);
        if (!f->lay.unicode) memset(f->mem + pmap, 0, 4);
        pst_page_seal(f, pmap, PST_PTYPE_PMAP, pmap);
        bits_set(bits, PST_PAGE_SIZE / 64, PST_PAGE_SIZE / 64, true);
    }
    pst_page_seal(f, at, PST_PTYPE_AMAP, at);
    return NTH_PST_OK;
}

/* First fit in AMap k: a run of `units` free bits starting on a multiple of `step`. */
static bool find_run(nth_pst_file *f, uint64_t k, uint64_t units, uint64_t step, uint64_t *first)
{
    const uint8_t *bits = amap_bits(f, k);
    uint64_t base = PST_AMAP_FIRST + k * PST_AMAP_SPAN, nbits = PST_AMAP_SPAN / 64;
    for (uint64_t i = 0; i + units <= nbits; i += step) {
        if (base + (i + units) * 64 > f->size) return false;
        uint64_t j = 0;
        while (j < units && !bit_get(bits, i + j)) j++;
        if (j == units) {
            *first = i;
            return true;
        }
        i += j / step * step; /* the bit at i + j is in use: skip past it */
    }
    return false;
}

nth_pst_status pst_space_alloc(nth_pst_file *f, size_t bytes, bool page, uint64_t *ib,
                               nth_pst_error *err)
{
    uint64_t units = bytes / 64, step = page ? PST_PAGE_SIZE / 64 : 1;
    /* with invalid maps only spans added by this edit are searched */
    uint64_t from = f->info.amap_valid ? 0 : amap_count(f);
    for (int round = 0; round < 2; round++) {
        for (uint64_t k = from; k < amap_count(f); k++) {
            uint64_t i;
            if (!find_run(f, k, units, step, &i)) continue;
            bits_set(amap_bits(f, k), i, units, true);
            *ib = PST_AMAP_FIRST + k * PST_AMAP_SPAN + i * 64;
            memset(f->mem + *ib, 0, bytes);
            return NTH_PST_OK;
        }
        from = amap_count(f);
        nth_pst_status st = grow(f, err);
        if (st) return st;
    }
    return pst_fail(err, NTH_PST_E_FULL, "AMap page", f->info.amap_last,
                    "no room for %zu bytes even in a new AMap span", bytes);
}

void pst_space_free(nth_pst_file *f, uint64_t ib, size_t bytes)
{
    if (ib + bytes > f->size) return;
    memset(f->mem + ib, 0, bytes);
    if (ib < PST_AMAP_FIRST) return;
    uint64_t k = (ib - PST_AMAP_FIRST) / PST_AMAP_SPAN;
    if (k >= amap_count(f)) return;
    uint64_t i = (ib - PST_AMAP_FIRST - k * PST_AMAP_SPAN) / 64;
    uint64_t n = bytes / 64;
    if (i + n > PST_AMAP_SPAN / 64) n = PST_AMAP_SPAN / 64 - i;
    bits_set(amap_bits(f, k), i, n, false);
}

nth_pst_status pst_next_block_bid(nth_pst_file *f, bool internal, uint64_t *bid,
                                  nth_pst_error *err)
{
    uint64_t next = f->info.bid_next_block & ~(uint64_t)3;
    uint64_t limit = f->lay.unicode ? UINT64_MAX - 8 : UINT32_MAX - 8;
    if (next == 0 || next > limit)
        return pst_fail(err, NTH_PST_E_CORRUPT, "HEADER", NTH_PST_NO_OFFSET,
                        "bidNextB 0x%llx cannot name a new block",
                        (unsigned long long)f->info.bid_next_block);
    *bid = next | (internal ? 2 : 0);
    f->info.bid_next_block = next + 4;
    return NTH_PST_OK;
}

/* The DList page's trailer, when the file has one (ptype 0x86 at 0x4200). */
static uint8_t *dlist(nth_pst_file *f, uint64_t *bid)
{
    const pst_layout *L = &f->lay;
    if (f->size < PST_DLIST_IB + PST_PAGE_SIZE) return NULL;
    uint8_t *t = f->mem + PST_DLIST_IB + L->page_data;
    if (t[0] != PST_PTYPE_DLIST || t[1] != PST_PTYPE_DLIST) return NULL;
    *bid = L->unicode ? rd64(t + 8) : rd32(t + 4);
    return t;
}

uint64_t pst_page_bid_floor(nth_pst_file *f)
{
    uint64_t bid = 0;
    return dlist(f, &bid) ? bid + 1 : 0;
}

void pst_header_store(nth_pst_file *f)
{
    uint64_t dl_bid;
    if (dlist(f, &dl_bid)) { /* its free-space hints are stale now: an empty list is exact */
        memset(f->mem + PST_DLIST_IB, 0, f->lay.page_data);
        pst_page_seal(f, PST_DLIST_IB, PST_PTYPE_DLIST, dl_bid);
    }
    const pst_layout *L = &f->lay;
    nth_pst_info *in = &f->info;
    uint64_t free_units = 0;
    for (uint64_t k = 0; k < amap_count(f); k++) {
        const uint8_t *bits = amap_bits(f, k);
        for (uint64_t i = 0; i < PST_AMAP_SPAN / 64; i++) free_units += !bit_get(bits, i);
        uint64_t at = PST_AMAP_FIRST + k * PST_AMAP_SPAN;
        pst_page_seal(f, at, PST_PTYPE_AMAP, at);
    }
    in->amap_free = free_units * 64;
    uint8_t *h = f->mem;
    uint8_t *root = h + (L->unicode ? 180 : 164);
    unsigned w = L->id_size;
    if (L->unicode) {
        wr64(h + 32, in->bid_next_page);
        wr64(h + 516, in->bid_next_block);
    } else {
        wr32(h + 24, (uint32_t)in->bid_next_block);
        wr32(h + 28, (uint32_t)in->bid_next_page);
    }
    wr_id(L, root + 4, in->file_eof);
    wr_id(L, root + 4 + w, in->amap_last);
    wr_id(L, root + 4 + 2 * w, in->amap_free);
    wr_id(L, root + 4 + 3 * w, in->pmap_free);
    wr_id(L, root + 4 + 4 * w, in->nbt_root.bid);
    wr_id(L, root + 4 + 5 * w, in->nbt_root.ib);
    wr_id(L, root + 4 + 6 * w, in->bbt_root.bid);
    wr_id(L, root + 4 + 7 * w, in->bbt_root.ib);
    in->crc_partial = nth_pst_crc(0, h + 8, 471);
    wr32(h + 4, in->crc_partial);
    if (L->unicode) {
        in->crc_full = nth_pst_crc(0, h + 8, 516);
        wr32(h + 524, in->crc_full);
    }
}
