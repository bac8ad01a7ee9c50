/*
 * test_inspect_fuzz.c — the inspector's fuzz target (fuzz/inspect_fuzz.c) run as a smoke test:
 * seed images of real heaps built here, then thousands of mutations of them, each through every
 * view. An input passes when it ends without a fault (the sanitizer builds check memory too) and
 * after at most READS_PER_BYTE reads per input byte (plus a constant): a hostile input of N bytes
 * costs O(N). A failing input is written to $BUILD/fuzz/inspect-fail-*.img to be replayed:
 *
 *   test_inspect_fuzz --seeds DIR     writes the seed images into DIR (a libFuzzer corpus)
 *   test_inspect_fuzz FILE...         runs the target over the given inputs
 *   INSPECT_FUZZ_MUTATIONS=N INSPECT_FUZZ_SEED=S test_inspect_fuzz   a longer or another run
 *
 * A seed image holds exactly the pages the views read of this process's heaps: the views are
 * run once over this process through a recording read seam, and the pages it saw are copied.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "harness/harness.h"
#include "../../fuzz/inspect_fuzz.c"

#define READS_PER_BYTE 8u
#define READS_CONSTANT 200000u
#if defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD
#define MUTATIONS_PER_SEED 300 /* slower builds: fewer inputs, the same kinds */
#else
#define MUTATIONS_PER_SEED 500
#endif

/* ----------------------------------------------------------------------- recording seam */

typedef struct recorder {
    uintptr_t *pages;
    size_t n, cap;
    uintptr_t *reads;  /* the addresses read (8-byte aligned), where mutations matter most */
    size_t n_reads, cap_reads;
} recorder;

static recorder rec;
static bool (*live_read)(const nth_mem *mem, uintptr_t address, void *buffer, size_t length);

static void note_page(uintptr_t page)
{
    if (rec.n && rec.pages[rec.n - 1] == page) return;
    if (rec.n == rec.cap) {
        rec.cap = rec.cap ? rec.cap * 2 : 1024;
        rec.pages = realloc(rec.pages, rec.cap * sizeof *rec.pages);
        if (!rec.pages) abort();
    }
    rec.pages[rec.n++] = page;
}

static bool recording_read(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    bool ok = live_read(mem, address, buffer, length);
    if (ok && length)
        for (uintptr_t p = address & ~(uintptr_t)4095; p < address + length; p += 4096) note_page(p);
    if (ok && length <= 4096)
        for (uintptr_t a = address & ~(uintptr_t)7; a < address + length && rec.n_reads < 1u << 20; a += 8) {
            if (rec.n_reads == rec.cap_reads) {
                rec.cap_reads = rec.cap_reads ? rec.cap_reads * 2 : 4096;
                rec.reads = realloc(rec.reads, rec.cap_reads * sizeof *rec.reads);
                if (!rec.reads) abort();
            }
            rec.reads[rec.n_reads++] = a;
        }
    return ok;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct image {
    unsigned char *bytes;
    size_t size;
    uint64_t entries;  /* seeds: the entries of the seed heap's own walk */
    uintptr_t heap;
    size_t *hot;       /* seeds: image offsets of the words the views read */
    size_t n_hot;
} image;

/* The image of the pages the views read of this process's heaps (the heaps of `t`). */
static image make_image(nth_target *t, uintptr_t probe)
{
    rec.n = 0;
    rec.n_reads = 0;
    live_read = t->mem.read;
    t->mem.read = recording_read;
    FILE *sink = fopen("/dev/null", "w");
    heap_cli c;
    memset(&c, 0, sizeof c);
    c.target = t;
    c.address = probe;
    c.max_size = UINT64_MAX;
    view(&c, sink, false, heap_view_summary);
    c.lfh_blocks = true;
    view(&c, sink, false, heap_view_entries);
    view(&c, sink, false, heap_view_block);
    for (size_t i = 0; i < nth_target_heap_count(t); i++) {
        nth_map_counts counts;
        char error[256];
        (void)nth_map_svg(sink, nth_target_mem(t), nth_target_heap_address(t, i), "seed", NULL, &counts, error,
                          sizeof error);
    }
    fclose(sink);
    t->mem.read = live_read;
    qsort(rec.pages, rec.n, sizeof *rec.pages, by_address);
    /* runs of consecutive pages: the segments */
    uintptr_t starts[IMAGE_MAX_SEGMENTS];
    size_t lengths[IMAGE_MAX_SEGMENTS], ns = 0, total = 0;
    for (size_t i = 0; i < rec.n; i++) {
        if (i && rec.pages[i] == rec.pages[i - 1]) continue;
        if (ns && rec.pages[i] <= starts[ns - 1] + lengths[ns - 1] + 4096u) { /* one-page gaps joined */
            total += rec.pages[i] + 4096 - (starts[ns - 1] + lengths[ns - 1]);
            lengths[ns - 1] = rec.pages[i] + 4096 - starts[ns - 1];
        } else if (ns < IMAGE_MAX_SEGMENTS) {
            starts[ns] = rec.pages[i];
            lengths[ns++] = 4096;
            total += 4096;
        }
    }
    size_t nh = nth_target_heap_count(t) < IMAGE_MAX_HEAPS ? nth_target_heap_count(t) : IMAGE_MAX_HEAPS;
    image im = {0};
    im.size = IMAGE_HEADER + nh * 8 + ns * 16 + total;
    im.bytes = calloc(1, im.size);
    if (!im.bytes) abort();
    im.bytes[1] = (unsigned char)ns;
    im.bytes[2] = (unsigned char)nh;
    memcpy(im.bytes + 8, &probe, 8);
    size_t at = IMAGE_HEADER;
    for (size_t i = 0; i < nh; i++, at += 8) {
        uint64_t heap = nth_target_heap_address(t, i);
        memcpy(im.bytes + at, &heap, 8);
    }
    size_t bytes_at = at + ns * 16;
    for (size_t i = 0; i < ns; i++, at += 16) {
        uint64_t start = starts[i];
        uint32_t length = (uint32_t)lengths[i];
        memcpy(im.bytes + at, &start, 8);
        memcpy(im.bytes + at + 8, &length, 4);
        /* the pages between recorded ones may be unreadable: copy page by page */
        for (size_t off = 0; off < lengths[i]; off += 4096)
            (void)nth_target_read(t, starts[i] + off, im.bytes + bytes_at + off, 4096);
        bytes_at += lengths[i];
    }
    im.hot = malloc((rec.n_reads ? rec.n_reads : 1) * sizeof *im.hot);
    if (!im.hot) abort();
    size_t data_at = IMAGE_HEADER + nh * 8 + ns * 16, offset = 0;
    for (size_t i = 0; i < ns; offset += lengths[i], i++)
        for (size_t r = 0; r < rec.n_reads; r++)
            if (rec.reads[r] >= starts[i] && rec.reads[r] + 8 <= starts[i] + lengths[i])
                im.hot[im.n_hot++] = data_at + offset + (rec.reads[r] - starts[i]);
    return im;
}

/* ----------------------------------------------------------------------------- seeds */

enum { N_SEEDS = 4 };

/* Builds the heaps of seed `k` in this process, images them, destroys them. */
static image seed(int k)
{
    nth_heap *heap = nth_heap_create(k == 1 ? NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED : 0, 0, 0);
    void *p[400] = {0};
    uintptr_t probe = 0;
    switch (k) {
    case 0: /* back-end, LFH with free slots, a free gap, big blocks */
        for (int i = 0; i < 100; i++) p[i] = nth_heap_alloc(heap, 0, 0x100);
        for (int i = 0; i < 100; i += 10) nth_heap_free(heap, 0, p[i]);
        for (int i = 100; i < 103; i++) p[i] = nth_heap_alloc(heap, 0, 0x2000);
        nth_heap_free(heap, 0, p[101]);
        p[104] = nth_heap_alloc(heap, 0, 1u << 20);
        p[105] = nth_heap_alloc(heap, 0, 2u << 20);
        probe = (uintptr_t)p[99];
        break;
    case 1: /* tail and free checking, user values, many sizes */
        for (int i = 0; i < 120; i++) p[i] = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE, (size_t)(i * 37 % 900 + 1));
        for (int i = 0; i < 120; i += 3) nth_heap_free(heap, 0, p[i]);
        probe = (uintptr_t)p[100];
        break;
    case 2: /* several segments */
        for (int i = 0; i < 60; i++) p[i] = nth_heap_alloc(heap, 0, 16384 + (size_t)i * 64);
        for (int i = 0; i < 60; i += 4) nth_heap_free(heap, 0, p[i]);
        probe = (uintptr_t)p[30];
        break;
    default: /* LFH in many buckets, half freed */
        for (int i = 0; i < 400; i++) p[i] = nth_heap_alloc(heap, 0, (size_t)(16 + (i % 20) * 24));
        for (int i = 0; i < 400; i += 2) nth_heap_free(heap, 0, p[i]);
        probe = (uintptr_t)p[301];
        break;
    }
    char error[256];
    nth_target *t = nth_target_open_self(error, sizeof error);
    if (!t) {
        fprintf(stderr, "open_self: %s\n", error);
        abort();
    }
    image im = make_image(t, probe);
    nth_target_close(t);
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e)) im.entries++;
    im.heap = (uintptr_t)heap;
    nth_heap_destroy(heap);
    return im;
}

/* ------------------------------------------------------------------------- mutations */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A copy of `seed` with 1 to 8 edits: bits, words set to pointers into the image, to another
 * word, to 0 / ~0 / small numbers, counts made huge; sometimes cut short. */
static image mutate(const image *s)
{
    image m = {malloc(s->size), s->size, 0, 0, NULL, 0};
    if (!m.bytes) abort();
    memcpy(m.bytes, s->bytes, s->size);
    size_t ns = m.bytes[1], nh = m.bytes[2], data_at = IMAGE_HEADER + nh * 8 + ns * 16;
    if (data_at + 16 >= m.size) return m;
    int edits = 1 + (int)(next_random() % 8);
    for (int e = 0; e < edits; e++) {
        size_t at = s->n_hot && next_random() % 4 ? s->hot[next_random() % s->n_hot] /* a word the views read */
                                                  : data_at + (size_t)(next_random() % (m.size - data_at - 8)) / 8 * 8;
        if (at + 8 > m.size) continue;
        uint64_t word;
        memcpy(&word, m.bytes + at, 8);
        uint64_t seg_start;
        memcpy(&seg_start, m.bytes + IMAGE_HEADER + nh * 8 + (next_random() % (ns ? ns : 1)) * 16, 8);
        switch (next_random() % 10) {
        case 0: m.bytes[at + next_random() % 8] ^= (unsigned char)(1u << (next_random() % 8)); break;
        case 1: word = 0; break;
        case 2: word = ~(uint64_t)0; break;
        case 3: word = seg_start + (next_random() % 65536) / 16 * 16; break;
        case 4: memcpy(&word, m.bytes + data_at + (next_random() % (m.size - data_at - 8)) / 8 * 8, 8); break;
        case 5: word += (next_random() & 1) ? 16 : (uint64_t)-16; break;
        case 6: word = (word & ~(uint64_t)0xFFFFFFFF) | (uint32_t)next_random(); break; /* a 32-bit count */
        case 7: word ^= (uint64_t)0xFFFFFFFF << (next_random() % 2 * 32); break;
        case 8: word = word + 4096 * (1 + next_random() % 64); break;
        default: word = next_random() % 4096; break;
        }
        memcpy(m.bytes + at, &word, 8);
    }
    if (next_random() % 16 == 0) m.size = data_at + (size_t)(next_random() % (m.size - data_at));
    if (next_random() % 2) m.bytes[0] ^= 1; /* text or JSON */
    return m;
}

/* --------------------------------------------------------------------------- running */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t max_reads_per_byte_milli; /* the worst reads/byte seen, x1000 */
static int damaged_inputs;                /* inputs whose views reported problems */
static double slowest;

static void save_failure(const image *m, int n)
{
    const char *build = getenv("BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz", build ? build : "build");
    mkdir(path, 0777);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/inspect-fail-%d.img", n);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(m->bytes, 1, m->size, f);
        fclose(f);
        fprintf(stderr, "  failing input written to %s\n", path);
    }
}

/* Runs one input; false when it read more than the bound allows. */
static bool run_input(const image *m, int n)
{
    double start = now();
    LLVMFuzzerTestOneInput(m->bytes, m->size);
    double took = now() - start;
    if (took > slowest) slowest = took;
    if (inspect_fuzz_problems) damaged_inputs++;
    uint64_t bound = READS_PER_BYTE * (uint64_t)m->size + READS_CONSTANT;
    uint64_t per_byte = inspect_fuzz_reads * 1000 / (m->size ? m->size : 1);
    if (per_byte > max_reads_per_byte_milli) max_reads_per_byte_milli = per_byte;
    if (inspect_fuzz_reads > bound) {
        fprintf(stderr, "  input %d (%zu bytes): %llu reads, more than %llu\n", n, m->size,
                (unsigned long long)inspect_fuzz_reads, (unsigned long long)bound);
        save_failure(m, n);
        return false;
    }
    return true;
}

TEST(seeds_are_real_heaps_and_read_as_such)
{
    for (int k = 0; k < N_SEEDS; k++) {
        image s = seed(k);
        REQUIRE(s.size > IMAGE_HEADER);
        /* the image target walks the seed's heaps without a problem */
        size_t ns = s.bytes[1], nh = s.bytes[2];
        CHECK(ns > 0 && ns < IMAGE_MAX_SEGMENTS && nh > 0); /* no run of pages left out */
        uintptr_t probe;
        nth_target *t = open_input(s.bytes, s.size, &probe);
        REQUIRE(t != NULL);
        nth_iter it;
        nth_walk_entry e;
        uint64_t entries = 0;
        CHECK(nth_iter_open(&it, nth_target_mem(t), s.heap));
        while (nth_iter_next(&it, &e)) entries++;
        CHECK_EQ(it.problems, 0);
        CHECK_EQ(entries, s.entries);
        CHECK(entries > 20);
        nth_target_close(t);
        CHECK(run_input(&s, -1));
        CHECK(inspect_fuzz_reads > 100);
        free(s.bytes);
        free(s.hot);
    }
}

TEST(mutated_images_end_without_fault_in_linear_reads)
{
    int n = 0, per_seed = MUTATIONS_PER_SEED;
    bool ok = true;
    double start = now();
    const char *more = getenv("INSPECT_FUZZ_MUTATIONS"), *rng_seed = getenv("INSPECT_FUZZ_SEED");
    if (more && atoi(more) > 0) per_seed = atoi(more);
    if (rng_seed && strtoull(rng_seed, NULL, 0)) rng = strtoull(rng_seed, NULL, 0);
    for (int k = 0; k < N_SEEDS; k++) {
        image s = seed(k);
        for (int i = 0; i < per_seed && ok; i++, n++) {
            image m = mutate(&s);
            ok = run_input(&m, n);
            free(m.bytes);
        }
        free(s.bytes);
        free(s.hot);
    }
    CHECK(ok);
    CHECK(damaged_inputs > n / 4); /* the mutations reach the structures the views check */
    printf("  %d mutated inputs in %.1f s (slowest %.3f s), %d reported as damaged, at most %.2f reads per input "
           "byte\n", n, now() - start, slowest, damaged_inputs, (double)max_reads_per_byte_milli / 1000);
}

/* Memory at the very top of the address space, where the end of a page is 0: a view that steps
 * page by page must stop there, not wrap round to address 0 and step through 2^52 pages. */
TEST(memory_at_the_top_of_the_address_space_ends)
{
    enum { NS = 2, NH = 1, LENGTH = 96 };
    static const uint64_t starts[NS] = {UINT64_MAX - 255, UINT64_MAX - 8191 - 47};
    size_t size = IMAGE_HEADER + NH * 8 + NS * 16 + NS * LENGTH;
    image m = {calloc(1, size), size, 0, 0, NULL, 0};
    REQUIRE(m.bytes != NULL);
    m.bytes[1] = NS;
    m.bytes[2] = NH;
    uint64_t probe = starts[0] + 16;
    memcpy(m.bytes + 8, &probe, 8);
    memcpy(m.bytes + IMAGE_HEADER, &starts[0], 8); /* the heap list names the top segment */
    for (size_t i = 0; i < NS; i++) {
        uint8_t *at = m.bytes + IMAGE_HEADER + NH * 8 + i * 16;
        uint32_t length = LENGTH;
        memcpy(at, &starts[i], 8);
        memcpy(at + 8, &length, 4);
    }
    memset(m.bytes + IMAGE_HEADER + NH * 8 + NS * 16, 0xFF, NS * LENGTH);
    for (int json = 0; json < 2; json++) {
        m.bytes[0] = (uint8_t)json;
        alarm(60); /* a view that wraps round would run for days: fail instead */
        CHECK(run_input(&m, -2 - json));
        alarm(0);
    }
    free(m.bytes);
}

static int write_seeds(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return 2;
    for (int k = 0; k < N_SEEDS; k++) {
        image s = seed(k);
        char path[4096];
        snprintf(path, sizeof path, "%s/seed%d.img", dir, k);
        FILE *f = fopen(path, "wb");
        if (!f) return 2;
        fwrite(s.bytes, 1, s.size, f);
        fclose(f);
        free(s.bytes);
        free(s.hot);
    }
    return 0;
}

static int run_files(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) return 2;
        image m = {NULL, 0, 0, 0, NULL, 0};
        size_t cap = 0, n;
        unsigned char buf[65536];
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
            if (m.size + n > cap) {
                cap = (m.size + n) * 2;
                m.bytes = realloc(m.bytes, cap);
                if (!m.bytes) abort();
            }
            memcpy(m.bytes + m.size, buf, n);
            m.size += n;
        }
        fclose(f);
        bool ok = run_input(&m, i);
        printf("%s: %zu bytes, %llu reads%s\n", argv[i], m.size, (unsigned long long)inspect_fuzz_reads,
               ok ? "" : " (over the bound)");
        free(m.bytes);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0) return write_seeds(argv[2]);
    if (argc > 1) return run_files(argc, argv);
    RUN(seeds_are_real_heaps_and_read_as_such);
    RUN(mutated_images_end_without_fault_in_linear_reads);
    RUN(memory_at_the_top_of_the_address_space_ends);
    return harness_finish("test_inspect_fuzz");
}
