/*
 * test_dt.c — the dt field tables (src/inspect/dt.c): each table names the fields of its
 * structure at the offsets and sizes the compiler gives them, in offset order, without overlap,
 * inside the structure; every type is found by its short, C and Windows name; values read
 * through the read seam are those of a live heap's structures (heap, segment, LFH, subsegment,
 * thread cache, big-block record); a seam that refuses a read yields no value and no crash.
 */
#include "harness/harness.h"
#include "heap/lfh.h"
#include "inspect/dt.h"

static const nth_dt_field *field(const nth_dt_type *type, const char *name)
{
    for (size_t i = 0; i < type->n_fields; i++)
        if (strcmp(type->fields[i].name, name) == 0) return &type->fields[i];
    return NULL;
}

/* The value of `name` in the structure of `type` at `address`, read through this process. */
static uint64_t value_of(const nth_dt_type *type, const void *address, const char *name)
{
    const nth_dt_field *f = field(type, name);
    uint64_t v = 0xDEADDEADDEADDEADull;
    if (!f || !nth_dt_value(f, &nth_mem_self, (uintptr_t)address, &v)) fprintf(stderr, "  no value for %s\n", name);
    return v;
}

#define CHECK_FIELD(type, ctype, member)                                                 \
    do {                                                                                 \
        const nth_dt_field *f_ = field((type), #member);                                 \
        CHECK(f_ != NULL);                                                               \
        if (f_) {                                                                        \
            CHECK_EQ(f_->offset, offsetof(ctype, member));                               \
            CHECK_EQ(f_->size, sizeof(((ctype *)0)->member));                            \
        }                                                                                \
    } while (0)

TEST(offsets_and_sizes_are_the_compilers)
{
    const nth_dt_type *heap = nth_dt_find("heap"), *segment = nth_dt_find("segment"), *lfh = nth_dt_find("lfh"),
                      *sub = nth_dt_find("subsegment"), *tcache = nth_dt_find("tcache"), *big = nth_dt_find("big");
    REQUIRE(heap && segment && lfh && sub && tcache && big);
    CHECK_EQ(heap->size, sizeof(nth_heap));
    CHECK_EQ(segment->size, sizeof(nth_segment));
    CHECK_EQ(lfh->size, sizeof(nth_lfh));
    CHECK_EQ(sub->size, sizeof(nth_lfh_subsegment));
    CHECK_EQ(tcache->size, sizeof(nth_lfh_tcache));
    CHECK_EQ(big->size, sizeof(nth_big));
    CHECK_FIELD(heap, nth_heap, magic);
    CHECK_FIELD(heap, nth_heap, flags);
    CHECK_FIELD(heap, nth_heap, first_segment);
    CHECK_FIELD(heap, nth_heap, n_segments);
    CHECK_FIELD(heap, nth_heap, big_list);
    CHECK_FIELD(heap, nth_heap, busy_blocks);
    CHECK_FIELD(heap, nth_heap, lfh);
    CHECK_FIELD(heap, nth_heap, lfh_usage);
    CHECK_FIELD(heap, nth_heap, freelists);
    CHECK_FIELD(segment, nth_segment, owner.magic);
    CHECK_FIELD(segment, nth_segment, owner.reserve);
    CHECK_FIELD(segment, nth_segment, committed);
    CHECK_FIELD(segment, nth_segment, n_ucr);
    CHECK_FIELD(lfh, nth_lfh, all);
    CHECK_FIELD(lfh, nth_lfh, n_subsegments);
    CHECK_FIELD(sub, nth_lfh_subsegment, owner.base);
    CHECK_FIELD(sub, nth_lfh_subsegment, block_size);
    CHECK_FIELD(sub, nth_lfh_subsegment, bump);
    CHECK_FIELD(sub, nth_lfh_subsegment, free_head);
    CHECK_FIELD(sub, nth_lfh_subsegment, n_blocks);
    CHECK_FIELD(sub, nth_lfh_subsegment, magic);
    CHECK_FIELD(tcache, nth_lfh_tcache, heap);
    CHECK_FIELD(tcache, nth_lfh_tcache, current);
    CHECK_FIELD(big, nth_big, data);
    CHECK_FIELD(big, nth_big, size);
    CHECK_FIELD(big, nth_big, flags);
}

TEST(fields_are_ordered_disjoint_and_inside)
{
    size_t n;
    const nth_dt_type *types = nth_dt_types(&n);
    CHECK_EQ(n, 6);
    for (size_t t = 0; t < n; t++) {
        const nth_dt_type *type = &types[t];
        CHECK(type->n_fields > 0);
        for (size_t i = 0; i < type->n_fields; i++) {
            const nth_dt_field *f = &type->fields[i];
            CHECK(f->size > 0);
            CHECK((size_t)f->offset + f->size <= type->size);
            if (f->kind != NTH_DT_STRUCT && f->kind != NTH_DT_ARRAY) CHECK(f->size <= 8);
            if (i > 0) CHECK(type->fields[i - 1].offset + type->fields[i - 1].size <= f->offset);
        }
        CHECK(nth_dt_find(type->name) == type);
        CHECK(nth_dt_find(type->c_name) == type);
        CHECK(nth_dt_find(type->windows) == type);
    }
    CHECK(nth_dt_find("_heap") == nth_dt_find("heap"));
    CHECK(nth_dt_find("no_such_type") == NULL);
}

TEST(values_are_those_of_a_live_heap)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    for (int i = 0; i < 40; i++) REQUIRE(nth_heap_alloc(heap, 0, 0x100)); /* the LFH takes over */
    REQUIRE(nth_heap_alloc(heap, 0, 3u << 20));                           /* a big block */
    nth_heap_lock(heap);
    const nth_dt_type *t = nth_dt_find("heap");
    CHECK_EQ(value_of(t, heap, "magic"), NTH_HEAP_MAGIC);
    CHECK_EQ(value_of(t, heap, "n_segments"), heap->n_segments);
    CHECK_EQ(value_of(t, heap, "first_segment"), (uintptr_t)heap->first_segment);
    CHECK_EQ(value_of(t, heap, "busy_blocks"), heap->busy_blocks);
    CHECK_EQ(value_of(t, heap, "lfh_enabled"), 1);
    nth_lfh *lfh = atomic_load(&heap->lfh);
    REQUIRE(lfh);
    CHECK_EQ(value_of(t, heap, "lfh"), (uintptr_t)lfh);
    uint32_t found = 0;
    CHECK(nth_dt_check(t, &nth_mem_self, (uintptr_t)heap, &found));
    CHECK_EQ(found, NTH_HEAP_MAGIC);

    t = nth_dt_find("segment");
    CHECK(nth_dt_check(t, &nth_mem_self, (uintptr_t)heap->first_segment, &found));
    CHECK_EQ(value_of(t, heap->first_segment, "owner.heap"), (uintptr_t)heap);
    CHECK_EQ(value_of(t, heap->first_segment, "owner.reserve"), heap->first_segment->owner.reserve);
    CHECK_EQ(value_of(t, heap->first_segment, "committed"), heap->first_segment->committed);

    t = nth_dt_find("lfh");
    CHECK(nth_dt_check(t, &nth_mem_self, (uintptr_t)lfh, &found));
    CHECK_EQ(value_of(t, lfh, "n_subsegments"), lfh->n_subsegments);
    REQUIRE(lfh->all);
    t = nth_dt_find("subsegment");
    CHECK(nth_dt_check(t, &nth_mem_self, (uintptr_t)lfh->all, &found));
    CHECK_EQ(value_of(t, lfh->all, "block_size"), 0x100);
    CHECK_EQ(value_of(t, lfh->all, "bump"), lfh->all->bump);
    CHECK_EQ(value_of(t, lfh->all, "owner.base"), (uintptr_t)lfh->all->owner.base);
    REQUIRE(lfh->caches);
    t = nth_dt_find("tcache");
    CHECK_EQ(value_of(t, lfh->caches, "heap"), (uintptr_t)heap);

    REQUIRE(heap->big_list);
    t = nth_dt_find("big");
    CHECK(nth_dt_check(t, &nth_mem_self, (uintptr_t)heap->big_list, &found));
    CHECK_EQ(value_of(t, heap->big_list, "size"), 3u << 20);
    CHECK_EQ(value_of(t, heap->big_list, "data"), (uintptr_t)heap->big_list->data);
    /* The wrong type at an address is told apart by its magic. */
    CHECK(!nth_dt_check(nth_dt_find("segment"), &nth_mem_self, (uintptr_t)heap->big_list, &found));
    nth_heap_unlock(heap);
    nth_heap_destroy(heap);
}

static bool refuse(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    (void)mem, (void)address, (void)buffer, (void)length;
    return false;
}

TEST(an_unreadable_structure_has_no_values)
{
    nth_mem mem = {refuse, NULL, NULL};
    const nth_dt_type *t = nth_dt_find("heap");
    uint64_t v;
    uint32_t found;
    CHECK(!nth_dt_value(field(t, "magic"), &mem, 0x1000, &v));
    CHECK(!nth_dt_check(t, &mem, 0x1000, &found));
    CHECK(!nth_dt_value(field(t, "segment0"), &nth_mem_self, (uintptr_t)&mem, &v)); /* not scalar */
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(offsets_and_sizes_are_the_compilers);
    RUN(fields_are_ordered_disjoint_and_inside);
    RUN(values_are_those_of_a_live_heap);
    RUN(an_unreadable_structure_has_no_values);
    return harness_finish(argv[0]);
}
