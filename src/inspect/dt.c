/*
 * dt.c — the field tables of dt.h, one per structure, written with offsetof and sizeof on the
 * engine's definitions; and the reads of a field's value through a read seam.
 *
 * Invariant: the fields of a table are in offset order and lie inside the structure
 * (tests/inspect/test_dt.c checks every one against offsetof and the structure's size).
 */
#include <strings.h>

#include "heap/lfh.h"
#include "inspect/dt.h"

#define MEMBER_SIZE(type, field) ((uint32_t)sizeof(((type *)0)->field))
#define FIELD(type, field, kind, tname) {#field, tname, (uint32_t)offsetof(type, field), MEMBER_SIZE(type, field), kind}
#define U(type, field, tname) FIELD(type, field, NTH_DT_UINT, tname)
#define B(type, field) FIELD(type, field, NTH_DT_BOOL, "bool")
#define P(type, field, tname) FIELD(type, field, NTH_DT_PTR, tname)
#define S(type, field, tname) FIELD(type, field, NTH_DT_STRUCT, tname)
#define A(type, field, tname) FIELD(type, field, NTH_DT_ARRAY, tname)

/* The owner prefix (nth_owner) of a structure whose first member is `owner`. */
#define OWNER(type)                                                                      \
    U(type, owner.magic, "uint32_t"), U(type, owner.kind, "uint16_t"),                   \
    U(type, owner.index, "uint16_t"), P(type, owner.heap, "nth_heap"),                   \
    P(type, owner.base, "char"), U(type, owner.reserve, "size_t")

static const nth_dt_field heap_fields[] = {
    S(nth_heap, header_block, "nth_block_header"),
    S(nth_heap, segment0, "nth_segment"),
    U(nth_heap, magic, "uint32_t"),
    U(nth_heap, layout_version, "uint32_t"),
    U(nth_heap, flags, "uint32_t"),
    U(nth_heap, force_flags, "uint32_t"),
    A(nth_heap, key, "uint64_t[2]"),
    U(nth_heap, maximum, "size_t"),
    U(nth_heap, segment_reserve, "size_t"),
    U(nth_heap, commit_step, "size_t"),
    U(nth_heap, decommit_free_block, "size_t"),
    U(nth_heap, decommit_total_free, "size_t"),
    B(nth_heap, terminate_on_corruption),
    B(nth_heap, lfh_enabled),
    S(nth_heap, lock, "nth_lock"),
    P(nth_heap, next_heap, "nth_heap"),
    P(nth_heap, prev_heap, "nth_heap"),
    P(nth_heap, first_segment, "nth_segment"),
    P(nth_heap, last_segment, "nth_segment"),
    U(nth_heap, n_segments, "uint32_t"),
    P(nth_heap, big_list, "nth_big"),
    P(nth_heap, big_tail, "nth_big"),
    P(nth_heap, big_pages, "nth_big_page"),
    A(nth_heap, big_cache, "struct[8]"),
    U(nth_heap, big_cache_n, "uint32_t"),
    U(nth_heap, big_cache_bytes, "size_t"),
    U(nth_heap, busy_blocks, "size_t"),
    U(nth_heap, busy_bytes, "size_t"),
    U(nth_heap, free_blocks, "size_t"),
    U(nth_heap, free_bytes, "size_t"),
    U(nth_heap, big_blocks, "size_t"),
    U(nth_heap, big_bytes, "size_t"),
    U(nth_heap, reserved_bytes, "size_t"),
    U(nth_heap, committed_bytes, "size_t"),
    U(nth_heap, commit_ops, "uint64_t"),
    U(nth_heap, decommit_ops, "uint64_t"),
    U(nth_heap, alloc_calls, "uint64_t"),
    U(nth_heap, free_calls, "uint64_t"),
    U(nth_heap, damaged_blocks, "size_t"),
    U(nth_heap, damaged_bytes, "size_t"),
    P(nth_heap, lfh, "nth_lfh"),
    U(nth_heap, lfh_paused, "uint32_t"),
    B(nth_heap, lfh_create_pending),
    A(nth_heap, freelist_bitmap, "uint64_t[]"),
    P(nth_heap, freelists, "nth_free_links"),
    P(nth_heap, lfh_usage, "uint16_t"),
};

static const nth_dt_field segment_fields[] = {
    OWNER(nth_segment),
    P(nth_segment, next, "nth_segment"),
    P(nth_segment, first_block, "nth_block_header"),
    P(nth_segment, limit, "char"),
    U(nth_segment, committed, "size_t"),
    P(nth_segment, ucr, "nth_ucr"),
    U(nth_segment, n_ucr, "uint32_t"),
    U(nth_segment, ucr_capacity, "uint32_t"),
    U(nth_segment, ucr_map_bytes, "size_t"),
    A(nth_segment, ucr_inline, "nth_ucr[32]"),
};

static const nth_dt_field lfh_fields[] = {
    U(nth_lfh, magic, "uint32_t"),
    U(nth_lfh, n_subsegments, "uint32_t"),
    P(nth_lfh, all, "nth_lfh_subsegment"),
    P(nth_lfh, idle, "nth_lfh_subsegment"),
    P(nth_lfh, caches, "nth_lfh_tcache"),
    P(nth_lfh, orphans, "nth_lfh_tcache"),
    U(nth_lfh, subsegment_bytes, "size_t"),
    U(nth_lfh, damaged_links, "uint64_t"),
    A(nth_lfh, pools, "nth_lfh_bucket_pool[128]"),
    A(nth_lfh, active, "uint8_t[128]"),
};

static const nth_dt_field subsegment_fields[] = {
    OWNER(nth_lfh_subsegment),
    U(nth_lfh_subsegment, span, "size_t"),
    U(nth_lfh_subsegment, reciprocal, "uint32_t"),
    U(nth_lfh_subsegment, n_used, "uint32_t"),
    U(nth_lfh_subsegment, magic, "uint32_t"),
    U(nth_lfh_subsegment, n_words, "uint32_t"),
    U(nth_lfh_subsegment, n_blocks, "uint32_t"),
    U(nth_lfh_subsegment, unused_width, "uint16_t"),
    U(nth_lfh_subsegment, bucket, "uint16_t"),
    P(nth_lfh_subsegment, owner_cache, "nth_lfh_tcache"),
    P(nth_lfh_subsegment, first_block, "char"),
    U(nth_lfh_subsegment, link_key, "uint64_t"),
    U(nth_lfh_subsegment, index_inverse, "uint64_t"),
    U(nth_lfh_subsegment, block_size, "uint32_t"),
    U(nth_lfh_subsegment, bump, "uint32_t"),
    U(nth_lfh_subsegment, free_head, "uint32_t"),
    U(nth_lfh_subsegment, index_shift, "uint32_t"),
    P(nth_lfh_subsegment, busy_bits, "uint64_t"),
    P(nth_lfh_subsegment, remote_bits, "uint64_t"),
    U(nth_lfh_subsegment, remote_count, "uint32_t"),
    P(nth_lfh_subsegment, unused, "unsigned char"),
    U(nth_lfh_subsegment, meta_bytes, "size_t"),
    P(nth_lfh_subsegment, segment, "nth_segment"),
    P(nth_lfh_subsegment, next, "nth_lfh_subsegment"),
    P(nth_lfh_subsegment, prev, "nth_lfh_subsegment"),
    P(nth_lfh_subsegment, pool_next, "nth_lfh_subsegment"),
    P(nth_lfh_subsegment, pool_prev, "nth_lfh_subsegment"),
};

static const nth_dt_field tcache_fields[] = {
    P(nth_lfh_tcache, heap, "nth_heap"),
    P(nth_lfh_tcache, thread_next, "nth_lfh_tcache"),
    P(nth_lfh_tcache, heap_next, "nth_lfh_tcache"),
    P(nth_lfh_tcache, heap_prev, "nth_lfh_tcache"),
    P(nth_lfh_tcache, orphan_next, "nth_lfh_tcache"),
    U(nth_lfh_tcache, in_op, "uint32_t"),
    U(nth_lfh_tcache, gate, "uint32_t"),
    A(nth_lfh_tcache, current, "nth_lfh_subsegment *[128]"),
    A(nth_lfh_tcache, warmup, "uint8_t[128]"),
};

static const nth_dt_field big_fields[] = {
    OWNER(nth_big),
    P(nth_big, next, "nth_big"),
    P(nth_big, prev, "nth_big"),
    P(nth_big, data, "char"),
    U(nth_big, size, "size_t"),
    U(nth_big, user_value, "uintptr_t"),
    U(nth_big, flags, "uint16_t"),
};

#define N(array) (sizeof array / sizeof array[0])
#define NO_MAGIC UINT32_MAX

static const nth_dt_type types[] = {
    {"heap", "nth_heap", "_HEAP", sizeof(nth_heap), offsetof(nth_heap, magic), NTH_HEAP_MAGIC, heap_fields,
     N(heap_fields)},
    {"segment", "nth_segment", "_HEAP_SEGMENT", sizeof(nth_segment), offsetof(nth_segment, owner.magic),
     NTH_SEGMENT_MAGIC, segment_fields, N(segment_fields)},
    {"lfh", "nth_lfh", "_LFH_HEAP", sizeof(nth_lfh), offsetof(nth_lfh, magic), NTH_LFH_MAGIC, lfh_fields,
     N(lfh_fields)},
    {"subsegment", "nth_lfh_subsegment", "_HEAP_SUBSEGMENT", sizeof(nth_lfh_subsegment),
     offsetof(nth_lfh_subsegment, magic), NTH_LFH_MAGIC, subsegment_fields, N(subsegment_fields)},
    {"tcache", "nth_lfh_tcache", "_HEAP_LOCAL_DATA", sizeof(nth_lfh_tcache), NO_MAGIC, 0, tcache_fields,
     N(tcache_fields)},
    {"big", "nth_big", "_HEAP_VIRTUAL_ALLOC_ENTRY", sizeof(nth_big), offsetof(nth_big, owner.magic), NTH_BIG_MAGIC,
     big_fields, N(big_fields)},
};

const nth_dt_type *nth_dt_types(size_t *count)
{
    *count = N(types);
    return types;
}

const nth_dt_type *nth_dt_find(const char *name)
{
    for (size_t i = 0; i < N(types); i++)
        if (strcasecmp(name, types[i].name) == 0 || strcasecmp(name, types[i].c_name) == 0 ||
            strcasecmp(name, types[i].windows) == 0)
            return &types[i];
    return NULL;
}

static bool read_uint(const nth_mem *mem, uintptr_t address, uint32_t size, uint64_t *value)
{
    unsigned char bytes[8] = {0};
    if (size == 0 || size > sizeof bytes || !mem->read(mem, address, bytes, size)) return false;
    uint64_t v = 0;
    for (uint32_t i = size; i-- > 0;) v = v << 8 | bytes[i]; /* little-endian, as the target */
    *value = v;
    return true;
}

bool nth_dt_value(const nth_dt_field *field, const nth_mem *mem, uintptr_t address, uint64_t *value)
{
    if (field->kind == NTH_DT_STRUCT || field->kind == NTH_DT_ARRAY) return false;
    return read_uint(mem, address + field->offset, field->size, value);
}

bool nth_dt_check(const nth_dt_type *type, const nth_mem *mem, uintptr_t address, uint32_t *found)
{
    uint64_t value = 0;
    uint32_t at = type->magic_offset == NO_MAGIC ? 0 : type->magic_offset;
    if (!read_uint(mem, address + at, 4, &value)) return false;
    *found = (uint32_t)value;
    return type->magic_offset == NO_MAGIC || (uint32_t)value == type->magic;
}
