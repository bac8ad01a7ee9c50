/*
 * cmd_heap_tags.c — `ntheap heap -t`: poolmon's table of the target's heap tags, read from the
 * tag tables its engine publishes (nth_heap_registry.tag_tables, outside_layout.h): per tag,
 * allocations, frees, their difference, bytes in use and the peak, biggest first by bytes (or
 * by allocations with --sort allocs). Rows that never counted anything are left out, as the
 * program's own nth_heap_print_tags leaves them out.
 *
 *   heap 00007f0c2a400000
 *   index tag                    allocs        frees         diff          bytes           peak
 *       1 parser                     12            2           10            960           1024
 *
 * --watch SECONDS (a live process only) refreshes the table until interrupted (SIGINT or
 * SIGTERM end the loop between refreshes, the target resumed) or --count N refreshes were made;
 * the target is opened, stopped and read afresh for each refresh and runs in between. With
 * --json each refresh is one JSON document.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_heap.h"
#include "heap/debug/tags.h"
#include "inspect/debug_read.h"
#include "target_arg.h"

typedef struct tags_view {
    heap_cli *c;
    size_t tables;
} tags_view;

static void one_table(uintptr_t heap, const nth_tag_stats *rows, size_t n_rows, void *ctx)
{
    static const emit_column columns[] = {
        {"index", EMIT_U64, "%5" PRIu64, NULL},        {"tag", EMIT_STR, " %-32s", NULL},
        {"allocs", EMIT_U64, " %12" PRIu64, NULL},     {"frees", EMIT_U64, " %12" PRIu64, NULL},
        {"diff", EMIT_U64, " %12" PRIu64, NULL},       {"bytes", EMIT_U64, " %14" PRIu64, NULL},
        {"peak", EMIT_U64, " %14" PRIu64, NULL},
    };
    static nth_tag_stats shown[NTH_MAX_TAG + 1];
    tags_view *v = ctx;
    heap_cli *c = v->c;
    v->tables++;
    size_t n = 0;
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i].allocs || rows[i].frees || rows[i].bytes) shown[n++] = rows[i];
    qsort(shown, n, sizeof *shown, c->sort_allocs ? nth_tags_by_allocs : nth_tags_by_bytes);
    emit_object_begin(&c->e, NULL, NULL);
    emit_kv_hex(&c->e, "heap", "heap ", heap, ADDR_DIGITS);
    emit_kv_u64(&c->e, "tags_defined", NULL, n_rows);
    emit_table_begin(&c->e, "tags",
                     "index tag                                    allocs        frees         diff          bytes"
                     "           peak",
                     columns, 7, NULL);
    for (size_t i = 0; i < n; i++) {
        const nth_tag_stats *r = &shown[i];
        /* frees never exceed allocations of a sound table; a damaged one shows 0, not a wrap */
        uint64_t diff = r->allocs >= r->frees ? r->allocs - r->frees : 0;
        emit_row(&c->e, (uint64_t)r->index, r->name, r->allocs, r->frees, diff, (uint64_t)r->bytes,
                 (uint64_t)r->peak_bytes);
    }
    emit_table_end(&c->e);
    emit_object_end(&c->e);
}

int heap_view_tags(heap_cli *c)
{
    tags_view v = {c, 0};
    emit_array_begin(&c->e, "tag_tables");
    nth_tag_tables_read(c->target, one_table, &v);
    emit_array_end(&c->e);
    if (v.tables == 0) {
        emit_text(&c->e, "(no heap of %s has tags: create tags, or run it with NTHEAP_OPTIONS=tags=module)\n",
                  nth_target_describe(c->target));
        return 1;
    }
    return 0;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int heap_watch_tags(heap_cli *c, const struct target_arg *target, bool json)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the sleep between refreshes ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int status = 0;
    for (unsigned n = 0; !interrupted && (c->watch_count == 0 || n < c->watch_count); n++) {
        if (n > 0) {
            struct timespec period = {(time_t)c->watch_seconds, 0};
            if (nanosleep(&period, NULL) != 0 || interrupted) break;
        }
        if (!(c->target = target_arg_open(target, "heap"))) return 2;
        emit_begin(&c->e, stdout, json);
        emit_kv_str(&c->e, "target", NULL, nth_target_describe(c->target));
        emit_kv_u64(&c->e, "refresh", NULL, n + 1);
        emit_text(&c->e, "--- %s, refresh %u (every %us)\n", nth_target_describe(c->target), n + 1, c->watch_seconds);
        status = heap_view_tags(c);
        emit_end(&c->e);
        fflush(stdout);
        nth_target_close(c->target);
        c->target = NULL;
    }
    return status;
}
