/*
 * named.c — the name-to-id map (NID 0x61): which GUID and name (numeric or string) each
 * named property id 0x8000 + k stands for.
 *
 *     PC of node 0x61
 *       0x0002 PidTagNameidStreamGuid    GUID[]  (16 bytes each)
 *       0x0003 PidTagNameidStreamEntry   NAMEID[] (8 bytes each):
 *                 dwPropertyID(4)  N:1 | wGuid:15 (2)  wPropIdx(2)
 *                 N = 0: dwPropertyID is the numeric name (LID)
 *                 N = 1: dwPropertyID is the offset of the name in the string stream
 *                 wGuid 1 = PS_MAPI, 2 = PS_PUBLIC_STRINGS, n >= 3 = GUID stream entry n - 3
 *                 property id = 0x8000 + wPropIdx
 *       0x0004 PidTagNameidStreamString  length(4) UTF-16LE name, padded to 4 bytes, ...
 *
 * Invariant: after nth_pst_named_open every entry's GUID index and string range were checked
 * against their streams, names are UTF-8 copies the map owns, and entries are sorted by id
 * with no id twice.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct nth_pst_named_map {
    nth_pst_named_prop *props;
    size_t count;
};

static const uint8_t ps_mapi[16] = {0x28, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
static const uint8_t ps_public[16] = {0x29, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};

const char *nth_pst_guid_name(const uint8_t guid[16])
{
    /* {Data1-0000-0000-C000-000000000046} property sets of MS-OXPROPS */
    static const struct { uint32_t d1; const char *name; } sets[] = {
        {0x00020328, "PS_MAPI"},          {0x00020329, "PS_PUBLIC_STRINGS"},
        {0x00020386, "PS_INTERNET_HEADERS"}, {0x00062002, "PSETID_Appointment"},
        {0x00062003, "PSETID_Task"},      {0x00062004, "PSETID_Address"},
        {0x00062008, "PSETID_Common"},    {0x0006200A, "PSETID_Log"},
        {0x0006200B, "PSETID_Note"},      {0x00062040, "PSETID_Sharing"},
        {0x0006200E, "PSETID_PostRss"},   {0x00062041, "PSETID_AirSync"},
    };
    static const uint8_t tail[12] = {0x00, 0x00, 0x00, 0x00, 0xC0, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
    if (memcmp(guid + 4, tail, 12) != 0) return NULL;
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (rd32(guid) == sets[i].d1) return sets[i].name;
    return NULL;
}

static int by_id(const void *a, const void *b)
{
    const nth_pst_named_prop *x = a, *y = b;
    return (int)x->id - (int)y->id;
}

void nth_pst_named_close(nth_pst_named_map *map)
{
    if (!map) return;
    for (size_t i = 0; i < map->count; i++) free(map->props[i].name);
    free(map->props);
    free(map);
}

static nth_pst_status build(nth_pst_named_map *m, const nth_pst_pc *pc, uint64_t at,
                            nth_pst_error *err)
{
    const nth_pst_prop *guids = nth_pst_pc_find(pc, 0x0002), *entries = nth_pst_pc_find(pc, 0x0003),
                       *strings = nth_pst_pc_find(pc, 0x0004);
    size_t ng = guids ? guids->size / 16 : 0;
    if (!entries || entries->size % 8 || (guids && guids->size % 16))
        return pst_fail(err, NTH_PST_E_CORRUPT, "name-to-id map", at,
                        "the entry stream (0x0003) is %s, or the GUID stream is not whole GUIDs",
                        entries ? "not whole 8-byte NAMEIDs" : "missing");
    size_t n = entries->size / 8;
    m->props = calloc(n ? n : 1, sizeof *m->props);
    if (!m->props) return pst_fail(err, NTH_PST_E_NO_MEMORY, "name-to-id map", at, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = entries->data + 8 * i;
        nth_pst_named_prop *p = &m->props[m->count];
        uint32_t value = rd32(e);
        uint16_t w = rd16(e + 4);
        unsigned g = w >> 1;
        p->id = (uint16_t)(0x8000u + rd16(e + 6));
        if (rd16(e + 6) > 0x7FFF)
            return pst_fail(err, NTH_PST_E_CORRUPT, "NAMEID", at,
                            "entry %zu: wPropIdx 0x%X gives an id beyond 0xFFFF", i, rd16(e + 6));
        if (g == 1)
            memcpy(p->guid, ps_mapi, 16);
        else if (g == 2)
            memcpy(p->guid, ps_public, 16);
        else if (g >= 3 && g - 3 < ng)
            memcpy(p->guid, guids->data + 16 * (g - 3), 16);
        else if (g != 0)
            return pst_fail(err, NTH_PST_E_CORRUPT, "NAMEID", at,
                            "entry %zu: wGuid %u but the GUID stream holds %zu GUIDs", i, g, ng);
        p->is_string = w & 1;
        if (!p->is_string) {
            p->lid = value;
        } else {
            size_t ss = strings ? strings->size : 0;
            if (value > ss || ss - value < 4 || rd32(strings->data + value) > ss - value - 4 ||
                rd32(strings->data + value) % 2)
                return pst_fail(err, NTH_PST_E_CORRUPT, "NAMEID", at,
                                "entry %zu: string name at 0x%X lies outside the %zu-byte string "
                                "stream", i, value, ss);
            nth_pst_prop text = {.type = NTH_PST_PT_UNICODE, .data = strings->data + value + 4,
                                 .size = rd32(strings->data + value)};
            if (nth_pst_prop_utf8(&text, &p->name))
                return pst_fail(err, NTH_PST_E_NO_MEMORY, "name-to-id map", at, "out of memory");
        }
        m->count++;
    }
    qsort(m->props, m->count, sizeof *m->props, by_id);
    for (size_t i = 1; i < m->count; i++)
        if (m->props[i].id == m->props[i - 1].id)
            return pst_fail(err, NTH_PST_E_CORRUPT, "name-to-id map", at,
                            "property id 0x%04X is named twice", m->props[i].id);
    return NTH_PST_OK;
}

nth_pst_status nth_pst_named_open(nth_pst_file *file, nth_pst_named_map **out, nth_pst_error *err)
{
    *out = NULL;
    nth_pst_node node;
    nth_pst_pc *pc;
    nth_pst_status st = nth_pst_nbt_lookup(file, 0x61, &node, err);
    if (!st) st = nth_pst_pc_open(file, &node, &pc, err);
    if (st) return st;
    nth_pst_named_map *m = calloc(1, sizeof *m);
    if (!m) {
        nth_pst_pc_close(pc);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "name-to-id map", NTH_PST_NO_OFFSET, "out of memory");
    }
    nth_pst_hn_page pg;
    nth_pst_hn_page_info(nth_pst_pc_hn(pc), 0, &pg);
    st = build(m, pc, pg.ib, err);
    nth_pst_pc_close(pc);
    if (st) {
        nth_pst_named_close(m);
        return st;
    }
    *out = m;
    return NTH_PST_OK;
}

size_t nth_pst_named_count(const nth_pst_named_map *map) { return map->count; }

const nth_pst_named_prop *nth_pst_named_at(const nth_pst_named_map *map, size_t index)
{
    return index < map->count ? &map->props[index] : NULL;
}

const nth_pst_named_prop *nth_pst_named_find(const nth_pst_named_map *map, uint16_t id)
{
    size_t lo = 0, hi = map->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (map->props[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < map->count && map->props[lo].id == id ? &map->props[lo] : NULL;
}
