/*
 * work_prodcons.c — producer/consumer, for bench/workloads.sh.
 *
 * PAIRS producer threads allocate messages (32-512 B, one in 32 of 4 KiB), fill them and pass
 * them in batches of BATCH through a mutex-protected queue to PAIRS consumer threads, which
 * read and free them: nearly every free is a cross-thread free. MESSAGES messages in all.
 *
 * Prints a checksum of the work done. BENCH_QUICK=1 sends an eighth of the messages.
 */
#include "bench.h"

#include <pthread.h>

#define PAIRS 2
#define MESSAGES 6000000
#define BATCH 64
#define QUEUE_LIMIT 256 /* batches in flight before producers wait */

typedef struct message {
    struct message *next;
    size_t length;
    unsigned char body[];
} message;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    message *batches[QUEUE_LIMIT];
    size_t head, count;
    int producers_left;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
           {0}, 0, 0, PAIRS};

static void *produce(void *arg)
{
    size_t index = (size_t)(uintptr_t)arg;
    bench_rng rng = {0xFEEDull + index};
    size_t total = bench_scale(MESSAGES) / PAIRS;
    message *batch = NULL;
    size_t in_batch = 0;
    for (size_t n = 0; n < total; n++) {
        size_t length = (bench_rand(&rng) & 31) == 0 ? 4096 : bench_rand_range(&rng, 32, 512);
        message *m = malloc(sizeof *m + length);
        m->length = length;
        m->body[0] = (unsigned char)n;
        m->body[length - 1] = (unsigned char)length;
        m->next = batch;
        batch = m;
        if (++in_batch == BATCH || n + 1 == total) {
            pthread_mutex_lock(&queue.lock);
            while (queue.count == QUEUE_LIMIT) pthread_cond_wait(&queue.not_full, &queue.lock);
            queue.batches[(queue.head + queue.count++) % QUEUE_LIMIT] = batch;
            pthread_cond_signal(&queue.not_empty);
            pthread_mutex_unlock(&queue.lock);
            batch = NULL;
            in_batch = 0;
        }
    }
    pthread_mutex_lock(&queue.lock);
    queue.producers_left--;
    pthread_cond_broadcast(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

static void *consume(void *arg)
{
    uint64_t *checksum = arg;
    for (;;) {
        pthread_mutex_lock(&queue.lock);
        while (queue.count == 0 && queue.producers_left > 0)
            pthread_cond_wait(&queue.not_empty, &queue.lock);
        if (queue.count == 0) {
            pthread_mutex_unlock(&queue.lock);
            return NULL;
        }
        message *batch = queue.batches[queue.head];
        queue.head = (queue.head + 1) % QUEUE_LIMIT;
        queue.count--;
        pthread_cond_signal(&queue.not_full);
        pthread_mutex_unlock(&queue.lock);
        while (batch) {
            message *next = batch->next;
            *checksum += batch->body[0] + batch->body[batch->length - 1];
            free(batch);
            batch = next;
        }
    }
}

int main(void)
{
    pthread_t producers[PAIRS], consumers[PAIRS];
    uint64_t sums[PAIRS] = {0};
    for (size_t i = 0; i < PAIRS; i++) {
        pthread_create(&consumers[i], NULL, consume, &sums[i]);
        pthread_create(&producers[i], NULL, produce, (void *)(uintptr_t)i);
    }
    uint64_t checksum = 0;
    for (size_t i = 0; i < PAIRS; i++) pthread_join(producers[i], NULL);
    for (size_t i = 0; i < PAIRS; i++) {
        pthread_join(consumers[i], NULL);
        checksum += sums[i];
    }
    printf("work_prodcons checksum %llu\n", (unsigned long long)checksum);
    return 0;
}
