/*
 * test_model.c — the random model test: nearly a million alloc/realloc/free/size steps with fixed
 * seeds, checked against a reference model of what every live block must hold. Every block's
 * bytes follow a pattern derived from (id, offset), so a byte lost, moved or overwritten is
 * seen; every 1000 steps the whole heap is validated and walked, and the walk must list exactly
 * the model's live blocks with their sizes.
 */
#include "harness/harness.h"
#include "ntheap.h"

#define SLOTS 1024
#if (defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD) || (defined(NTH_DEBUG) && NTH_DEBUG) || defined(__clang__)
#define STEPS_PER_SEED 60000 /* the sanitizer, debug and clang builds run the same sequences, shorter */
#else
#define STEPS_PER_SEED 220000 /* four seeds and a quarter: nearly a million steps */
#endif

typedef struct slot {
    unsigned char *p;
    size_t size;
    uint32_t id;
} slot;

static inline unsigned char pattern(uint32_t id, size_t offset)
{
    return (unsigned char)(id * 131u + offset * 7u + (offset >> 8));
}

static void fill(slot *s)
{
    for (size_t i = 0; i < s->size; i++) s->p[i] = pattern(s->id, i);
}

static bool intact(const slot *s, size_t upto)
{
    for (size_t i = 0; i < upto; i++)
        if (s->p[i] != pattern(s->id, i)) return false;
    return true;
}

static size_t random_size(harness_rng *rng)
{
    uint64_t r = harness_rand(rng) % 100;
    if (r < 60) return harness_rand_range(rng, 0, 256);
    if (r < 85) return harness_rand_range(rng, 257, 4096);
    if (r < 99) return harness_rand_range(rng, 4097, 70000);
    return harness_rand_range(rng, 900000, 3000000); /* big blocks */
}

static int compare_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* The walk lists every live block exactly once, with its size. */
static bool walk_matches(nth_heap *heap, slot *slots)
{
    static uintptr_t model[SLOTS], walked[SLOTS];
    size_t n_model = 0, n_walked = 0;
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].p) model[n_model++] = (uintptr_t)slots[i].p;
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e)) {
        if (!(e.flags & NTH_ENTRY_BUSY) || (e.flags & NTH_ENTRY_INTERNAL)) continue;
        if (n_walked == SLOTS) return false;
        walked[n_walked++] = (uintptr_t)e.data;
    }
    if (nth_last_error() != NTH_ERR_NO_MORE_ITEMS || n_walked != n_model) return false;
    qsort(model, n_model, sizeof *model, compare_ptr);
    qsort(walked, n_walked, sizeof *walked, compare_ptr);
    return memcmp(model, walked, n_model * sizeof *model) == 0;
}

static void run_model(uint64_t seed, uint32_t heap_flags, bool lfh, int steps)
{
    static slot slots[SLOTS];
    memset(slots, 0, sizeof slots);
    harness_rng rng = {seed};
    nth_heap *heap = nth_heap_create(heap_flags, 0, 0);
    REQUIRE(heap);
    nth_heap_set_option(heap, NTH_OPTION_LFH, lfh);
    uint32_t next_id = 1;
    for (int step = 1; step <= steps; step++) {
        slot *s = &slots[harness_rand(&rng) % SLOTS];
        uint64_t op = harness_rand(&rng) % 10;
        if (!s->p) {
            s->size = random_size(&rng);
            s->id = next_id++;
            s->p = op < 2 ? nth_heap_alloc(heap, NTH_ZERO_MEMORY, s->size) : nth_heap_alloc(heap, 0, s->size);
            REQUIRE(s->p);
            if (op < 2)
                for (size_t i = 0; i < s->size; i++) REQUIRE(s->p[i] == 0);
            fill(s);
        } else if (op < 4) {
            size_t new_size = random_size(&rng);
            unsigned char *q = nth_heap_realloc(heap, 0, s->p, new_size);
            REQUIRE(q);
            s->p = q;
            REQUIRE(intact(s, s->size < new_size ? s->size : new_size));
            s->size = new_size;
            fill(s);
        } else if (op < 5) {
            REQUIRE(nth_heap_size(heap, 0, s->p) == s->size);
            REQUIRE(intact(s, s->size));
        } else {
            REQUIRE(intact(s, s->size));
            REQUIRE(nth_heap_free(heap, 0, s->p));
            s->p = NULL;
        }
        if (step % 1000 == 0) {
            REQUIRE(nth_heap_validate(heap, 0, NULL));
            REQUIRE(walk_matches(heap, slots));
        }
        if (step % 50000 == 0) nth_heap_compact(heap, 0);
    }
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].p) {
            REQUIRE(intact(&slots[i], slots[i].size));
            REQUIRE(nth_heap_free(heap, 0, slots[i].p));
        }
    nth_heap_stats st;
    nth_heap_query_stats(heap, &st);
    CHECK_EQ(st.busy_bytes, 0);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(model_backend_only) { run_model(0x1234567, 0, false, STEPS_PER_SEED); }
TEST(model_with_lfh) { run_model(0x89ABCDEF, 0, true, STEPS_PER_SEED); }
TEST(model_no_serialize) { run_model(0x5EED, NTH_NO_SERIALIZE, false, STEPS_PER_SEED); }
/* Without coalescing the heap fragments for good, but it keeps growing: every size, large ones
 * included (they once failed when newly committed pages could not join the free block before
 * them); a quarter of the steps, since each validation walks the ever more fragmented heap. */
TEST(model_no_coalesce) { run_model(0xC0FFEE, NTH_DISABLE_COALESCE_ON_FREE, true, STEPS_PER_SEED / 4); }
TEST(model_debug_heap) { run_model(0xDEB06, NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED, false, STEPS_PER_SEED); }

int main(int argc, char **argv)
{
    (void)argc;
    RUN(model_backend_only);
    RUN(model_with_lfh);
    RUN(model_no_serialize);
    RUN(model_no_coalesce);
    RUN(model_debug_heap);
    return harness_finish(argv[0]);
}
