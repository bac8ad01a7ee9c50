/*
 * mv.c — the items of a multi-valued property (type | 0x1000).
 *
 *     fixed-size base type (Int16/32/64, Float, Time, Currency, GUID, ...):
 *         item0 | item1 | ...                      count = size / item size
 *     variable-size base type (String, String8, Binary):
 *         ulCount(4) | rgulDataOffsets[ulCount](4 each) | data ...
 *         item i = bytes [offset i, offset i+1) (the last one up to the end of the value)
 *
 * Invariant: an item is handed out only after the whole layout was checked (count fits,
 * offsets ascending, first offset after the offset table, last within the value), so its
 * bytes always lie inside the property's value.
 */
#include <string.h>

#include "internal.h"

/* Checks the layout; *count receives the number of items. */
static nth_pst_status layout(const nth_pst_prop *p, size_t *count, size_t *fixed)
{
    if (!(p->type & NTH_PST_PT_MV)) return NTH_PST_E_INVALID;
    uint16_t base = p->type & (uint16_t)~NTH_PST_PT_MV;
    *fixed = nth_pst_type_size(base);
    if (base == NTH_PST_PT_BOOLEAN) *fixed = 2; /* PtypMultipleBoolean is not defined; be safe */
    if (*fixed) {
        if (p->size % *fixed) return NTH_PST_E_CORRUPT;
        *count = p->size / *fixed;
        return NTH_PST_OK;
    }
    if (base != NTH_PST_PT_UNICODE && base != NTH_PST_PT_STRING8 && base != NTH_PST_PT_BINARY)
        return NTH_PST_E_INVALID;
    if (p->size == 0) {
        *count = 0;
        return NTH_PST_OK;
    }
    if (p->size < 4) return NTH_PST_E_CORRUPT;
    size_t n = rd32(p->data);
    if (n > (p->size - 4) / 4) return NTH_PST_E_CORRUPT;
    uint32_t prev = (uint32_t)(4 + 4 * n);
    for (size_t i = 0; i < n; i++) {
        uint32_t off = rd32(p->data + 4 + 4 * i);
        if (off < prev || off > p->size) return NTH_PST_E_CORRUPT;
        prev = off;
    }
    *count = n;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_prop_mv_count(const nth_pst_prop *prop, size_t *count)
{
    size_t fixed;
    *count = 0;
    return layout(prop, count, &fixed);
}

nth_pst_status nth_pst_prop_mv_item(const nth_pst_prop *prop, size_t index, nth_pst_prop *out)
{
    size_t count, fixed;
    nth_pst_status st = layout(prop, &count, &fixed);
    if (st) return st;
    if (index >= count) return NTH_PST_E_NOT_FOUND;
    memset(out, 0, sizeof *out);
    out->id = prop->id;
    out->type = prop->type & (uint16_t)~NTH_PST_PT_MV;
    out->hnid = prop->hnid;
    out->where = prop->where;
    if (fixed) {
        out->data = prop->data + index * fixed;
        out->size = fixed;
        return NTH_PST_OK;
    }
    uint32_t start = rd32(prop->data + 4 + 4 * index);
    uint32_t end = index + 1 < count ? rd32(prop->data + 8 + 4 * index) : (uint32_t)prop->size;
    out->data = prop->data + start;
    out->size = end - start;
    return NTH_PST_OK;
}
