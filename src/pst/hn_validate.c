/*
 * hn_validate.c — the full rule set of a Heap-on-Node, reported finding by finding.
 *
 * Rules checked on every page (see hn.c for the layout):
 *
 *     page bytes   == ibHnpm + 4 + 2 * (cAlloc + 1)     the map is the last thing of the page
 *     ibHnpm       even; ibHnpm - rgibAlloc[cAlloc] is 0 or 1 (one pad byte at most)
 *     rgibAlloc[0] == header size (12, 66 or 2)         allocations start right after it
 *     cFree        == number of zero-length slots
 *     cAlloc       <= 2047                               hidIndex is 11 bits
 *     page bytes   <= 8176 (Unicode) / 8180 (ANSI)
 *     page 0: bClientSig one of the MS-PST values (reserved ones included);
 *             hidUserRoot 0 or a live allocation
 *
 * Fill levels are hints: a recorded level that differs from the level the page's free space
 * gives is reported with hint = true and does not count as a problem (real files carry stale
 * levels). Bounds and ordering of the map were already enforced when the HN was parsed.
 */
#include <stdio.h>

#include "internal.h"

typedef struct report_ctx {
    nth_pst_problem_fn fn;
    void *ctx;
    size_t problems;
} report_ctx;

static void finding(report_ctx *r, bool hint, const char *structure, uint64_t at,
                    const char *fmt, ...) PST_PRINTF(5, 6);

static void finding(report_ctx *r, bool hint, const char *structure, uint64_t at, const char *fmt,
                    ...)
{
    if (!hint) r->problems++;
    if (!r->fn) return;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    nth_pst_error e;
    pst_fail(&e, NTH_PST_E_CORRUPT, structure, at, "%s", what);
    r->fn(r->ctx, &e, hint);
}

static bool known_client(uint8_t sig)
{
    switch (sig) {
    case NTH_PST_CLIENT_RESERVED1:
    case NTH_PST_CLIENT_TC:
    case NTH_PST_CLIENT_RESERVED2:
    case NTH_PST_CLIENT_RESERVED3:
    case NTH_PST_CLIENT_RESERVED4:
    case NTH_PST_CLIENT_RESERVED5:
    case NTH_PST_CLIENT_BTH:
    case NTH_PST_CLIENT_PC:
    case NTH_PST_CLIENT_RESERVED6: return true;
    default: return false;
    }
}

size_t nth_pst_hn_validate(const nth_pst_hn *hn, nth_pst_problem_fn fn, void *ctx)
{
    report_ctx r = {fn, ctx, 0};
    for (size_t i = 0; i < hn->count; i++) {
        const pst_hn_pagebuf *pg = &hn->pages[i];
        const uint8_t *p = pg->data;
        uint64_t at = pg->ib;
        size_t hdr = pst_hn_header_size(i);
        size_t ib = rd16(p), count = pst_hn_map_count(p), nfree = pst_hn_map_free(p);
        size_t first = pst_hn_map_ib(p, 0), end = pst_hn_map_ib(p, count);
        uint64_t map_at = at == NTH_PST_NO_OFFSET ? at : at + ib;
        if (ib & 1) finding(&r, false, "HNPAGEMAP", map_at, "page %zu: ibHnpm 0x%zX is odd", i, ib);
        if (pg->size != ib + 4 + 2 * (count + 1))
            finding(&r, false, "HNPAGEMAP", map_at,
                    "page %zu: the map ends at 0x%zX but the page has %zu bytes", i,
                    ib + 4 + 2 * (count + 1), pg->size);
        if (ib - end > 1)
            finding(&r, false, "HNPAGEMAP", map_at,
                    "page %zu: %zu bytes between the last allocation (0x%zX) and the map", i,
                    ib - end, end);
        if (first != hdr)
            finding(&r, false, "HNPAGEMAP", map_at,
                    "page %zu: rgibAlloc[0] is 0x%zX, not the header size 0x%zX", i, first, hdr);
        size_t zero = 0;
        for (size_t k = 1; k <= count; k++)
            if (pst_hn_map_ib(p, k) == pst_hn_map_ib(p, k - 1)) zero++;
        if (zero != nfree)
            finding(&r, false, "HNPAGEMAP", map_at,
                    "page %zu: cFree is %zu but %zu slots are zero-length", i, nfree, zero);
        if (count > NTH_PST_HN_SLOTS_MAX)
            finding(&r, false, "HNPAGEMAP", map_at, "page %zu: cAlloc %zu exceeds 2047", i, count);
        if (pg->size > hn->page_max)
            finding(&r, false, "HN page", at, "page %zu: %zu bytes exceed the block limit %zu", i,
                    pg->size, hn->page_max);
        size_t free_bytes = pg->size < hn->page_max ? hn->page_max - pg->size : 0;
        uint8_t want = nth_pst_fill_level(free_bytes), have = pst_hn_fill_get(hn, i);
        if (want != have)
            finding(&r, true, i < 8 ? "HNHDR" : "HNBITMAPHDR", hn->pages[0].ib,
                    "page %zu: fill level %u recorded, %u by its %zu free bytes", i, have, want,
                    free_bytes);
    }
    uint8_t sig = nth_pst_hn_client_sig(hn);
    if (!known_client(sig))
        finding(&r, false, "HNHDR", hn->pages[0].ib, "bClientSig 0x%02X is not an MS-PST value",
                sig);
    uint32_t root = nth_pst_hn_user_root(hn);
    if (root) {
        const uint8_t *d;
        size_t n;
        nth_pst_error e;
        if (nth_pst_hn_get(hn, root, &d, &n, &e))
            finding(&r, false, "HNHDR", hn->pages[0].ib, "hidUserRoot: %s", e.message);
    }
    return r.problems;
}
