/*
 * work_frag.c — fragmentation with long-lived mixed sizes, for bench/workloads.sh.
 *
 * PHASES phases. Each allocates BATCH blocks of log-uniform sizes (16 B-4 KiB, and one in 64
 * up to 64 KiB), the size mix shifting from phase to phase so that old holes fit new requests
 * badly; then frees three quarters of the batch in random order and keeps the rest as
 * long-lived survivors (at most SURVIVORS; the oldest go first). Peak RSS is the interesting
 * figure here: it shows how well freed space is reused. Single-threaded.
 *
 * Prints a checksum of the work done. BENCH_QUICK=1 runs an eighth of the phases.
 */
#include "bench.h"

#define PHASES 24
#define BATCH 100000
#define SURVIVORS 150000

int main(void)
{
    bench_rng rng = {99};
    char **batch = malloc(BATCH * sizeof *batch);
    char **survivors = calloc(SURVIVORS, sizeof *survivors);
    size_t next_survivor = 0;
    uint64_t checksum = 0;
    size_t phases = bench_scale(PHASES);
    for (size_t phase = 0; phase < phases; phase++) {
        size_t shift = 1 + phase % 5; /* 1..5: sizes scaled by shift/3 */
        for (size_t i = 0; i < BATCH; i++) {
            size_t size = (bench_rand(&rng) & 63) == 0 ? bench_rand_log(&rng, 4096, 65536)
                                                      : bench_rand_log(&rng, 16, 4096);
            size = size * shift / 3 + 1;
            batch[i] = malloc(size);
            memset(batch[i], (int)i, size < 64 ? size : 64);
            checksum += size;
        }
        /* Free three quarters in random order; keep the rest. */
        for (size_t i = BATCH - 1; i > 0; i--) {
            size_t j = bench_rand(&rng) % (i + 1);
            char *t = batch[i];
            batch[i] = batch[j];
            batch[j] = t;
        }
        for (size_t i = 0; i < BATCH; i++) {
            if (i % 4 != 0) {
                checksum += (unsigned char)batch[i][0];
                free(batch[i]);
                continue;
            }
            free(survivors[next_survivor]);
            survivors[next_survivor] = batch[i];
            next_survivor = (next_survivor + 1) % SURVIVORS;
        }
    }
    for (size_t i = 0; i < SURVIVORS; i++) free(survivors[i]);
    free(survivors);
    free(batch);
    printf("work_frag checksum %llu\n", (unsigned long long)checksum);
    return 0;
}
