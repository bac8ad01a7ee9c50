/*
 * work_server.c — a server-like workload for bench/workloads.sh (run under each allocator).
 *
 * WORKERS threads each handle REQUESTS requests. A request: a receive buffer of 512 B-8 KiB
 * filled with text; parsing it into 8-40 small strings kept in a growing array; a response
 * built by appending to a buffer grown with realloc; a per-thread session cache of 4096
 * long-lived objects (64 B-2 KiB) of which one in four requests replaces an entry; and a log
 * record handed to a logger thread that frees it (cross-thread frees, in batches under a
 * mutex). Everything else of the request is freed before the next one.
 *
 * Prints one checksum line that depends only on the work done, so bench/workloads.sh can check
 * that every allocator ran the same work. BENCH_QUICK=1 does an eighth of the requests.
 */
#include "bench.h"

#include <pthread.h>

#define WORKERS 4
#define REQUESTS 80000
#define SESSIONS 4096

/* The log queue: workers append records, the logger thread frees them. */
typedef struct log_record {
    struct log_record *next;
    size_t length;
    char text[];
} log_record;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    log_record *head;
    int workers_left;
} log_queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, WORKERS};

static void *logger(void *arg)
{
    uint64_t *checksum = arg;
    for (;;) {
        pthread_mutex_lock(&log_queue.lock);
        while (!log_queue.head && log_queue.workers_left > 0)
            pthread_cond_wait(&log_queue.ready, &log_queue.lock);
        log_record *batch = log_queue.head;
        log_queue.head = NULL;
        bool done = !batch && log_queue.workers_left == 0;
        pthread_mutex_unlock(&log_queue.lock);
        if (done) return NULL;
        while (batch) {
            log_record *next = batch->next;
            *checksum += batch->length + (unsigned char)batch->text[0];
            free(batch);
            batch = next;
        }
    }
}

typedef struct worker {
    int index;
    size_t requests;
    uint64_t checksum;
} worker;

static void *serve(void *arg)
{
    worker *self = arg;
    bench_rng rng = {0x1234567ull + (uint64_t)self->index * 7919};
    char **sessions = calloc(SESSIONS, sizeof *sessions);
    log_record *pending = NULL;
    int pending_count = 0;
    for (size_t r = 0; r < self->requests; r++) {
        /* Receive. */
        size_t length = bench_rand_range(&rng, 512, 8192);
        char *request = malloc(length);
        for (size_t i = 0; i < length; i++) request[i] = (char)('a' + (i * 31 + r) % 26);

        /* Parse into fields. */
        size_t fields = bench_rand_range(&rng, 8, 40), capacity = 4, count = 0;
        char **field = malloc(capacity * sizeof *field);
        for (size_t f = 0; f < fields; f++) {
            size_t size = bench_rand_range(&rng, 8, 120);
            if (count == capacity) {
                capacity *= 2;
                field = realloc(field, capacity * sizeof *field);
            }
            char *copy = malloc(size + 1);
            memcpy(copy, request + (f * 97) % (length - size), size);
            copy[size] = 0;
            field[count++] = copy;
        }

        /* Respond: append the fields to a buffer grown by realloc. */
        size_t response_capacity = 256, used = 0;
        char *response = malloc(response_capacity);
        for (size_t f = 0; f < count; f++) {
            size_t n = strlen(field[f]);
            while (used + n + 2 > response_capacity) {
                response_capacity *= 2;
                response = realloc(response, response_capacity);
            }
            memcpy(response + used, field[f], n);
            used += n;
            response[used++] = '\n';
        }
        for (size_t i = 0; i < used; i += 64) self->checksum += (unsigned char)response[i];

        /* Session cache: long-lived objects, one in four requests replaces one. */
        if ((bench_rand(&rng) & 3) == 0 || !sessions[r % SESSIONS]) {
            size_t slot = bench_rand(&rng) % SESSIONS;
            free(sessions[slot]);
            size_t size = bench_rand_log(&rng, 64, 2048);
            sessions[slot] = malloc(size);
            memset(sessions[slot], (int)r, size);
        }

        /* Log record, freed by the logger thread. */
        size_t log_length = bench_rand_range(&rng, 64, 512);
        log_record *record = malloc(sizeof *record + log_length);
        record->length = log_length;
        memcpy(record->text, response, log_length < used ? log_length : used);
        record->next = pending;
        pending = record;
        if (++pending_count == 32) {
            log_record *tail = pending;
            while (tail->next) tail = tail->next;
            pthread_mutex_lock(&log_queue.lock);
            tail->next = log_queue.head;
            log_queue.head = pending;
            pthread_cond_signal(&log_queue.ready);
            pthread_mutex_unlock(&log_queue.lock);
            pending = NULL;
            pending_count = 0;
        }

        for (size_t f = 0; f < count; f++) free(field[f]);
        free(field);
        free(response);
        free(request);
    }
    pthread_mutex_lock(&log_queue.lock);
    if (pending) {
        log_record *tail = pending;
        while (tail->next) tail = tail->next;
        tail->next = log_queue.head;
        log_queue.head = pending;
    }
    log_queue.workers_left--;
    pthread_cond_signal(&log_queue.ready);
    pthread_mutex_unlock(&log_queue.lock);
    for (size_t i = 0; i < SESSIONS; i++) free(sessions[i]);
    free(sessions);
    return NULL;
}

int main(void)
{
    pthread_t log_thread, threads[WORKERS];
    worker workers[WORKERS];
    uint64_t log_checksum = 0;
    pthread_create(&log_thread, NULL, logger, &log_checksum);
    for (int t = 0; t < WORKERS; t++) {
        workers[t] = (worker){t, bench_scale(REQUESTS), 0};
        pthread_create(&threads[t], NULL, serve, &workers[t]);
    }
    uint64_t checksum = 0;
    for (int t = 0; t < WORKERS; t++) {
        pthread_join(threads[t], NULL);
        checksum += workers[t].checksum;
    }
    pthread_join(log_thread, NULL);
    printf("work_server checksum %llu %llu\n", (unsigned long long)checksum,
           (unsigned long long)log_checksum);
    return 0;
}
