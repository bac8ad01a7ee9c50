/*
 * cmd_umdh_take.c — `ntheap umdh (-p PID | -c CORE) [-o FILE] [--json]`: a UMDH snapshot of
 * another process (or of a core file), read from outside through the target's stack-trace
 * database: every busy traced block, grouped by allocation stack (count, bytes), biggest first.
 *
 * The text form is the file format the program's own snapshots use (src/heap/debug/leaks.c:
 * leak_report=2, nth_heap_write_snapshot), so `ntheap umdh A B` compares any two of them:
 *
 *   # ntheap umdh snapshot 1
 *   pid 1234
 *   total blocks 12 bytes 4096
 *   stack 7 count 3 bytes 96
 *     0x55d0c0a01234 program+0x1234 leak_function+0x1f
 *   end
 *
 * Blocks are grouped by stack index, frames shown as the program's reports show them (the
 * engine's own leading frames skipped, at most the program's stack_depth), named module+offset
 * in this process from the target's mapped files. --json writes the same content as one JSON
 * document through the emitter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_umdh.h"
#include "emit.h"
#include "frames.h"
#include "inspect/target_internal.h"
#include "target_arg.h"

#define MAX_FRAMES 64

typedef struct group {
    uint32_t stack;
    uint64_t count, bytes;
} group;

typedef struct collected {
    group *by_stack; /* indexed by stack: n_stacks entries */
    uint64_t n_stacks, blocks, bytes;
} collected;

static void add_block(const nth_trace_block *b, void *ctx)
{
    collected *c = ctx;
    if (b->alloc_stack >= c->n_stacks) return;
    group *g = &c->by_stack[b->alloc_stack];
    g->stack = b->alloc_stack;
    g->count++;
    g->bytes += b->size;
    c->blocks++;
    c->bytes += b->size;
}

static int by_bytes_desc(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static void write_text(FILE *out, const nth_trace_reader *r, nth_symbolizer *s, const collected *c, size_t n, int pid)
{
    fprintf(out, "# ntheap umdh snapshot 1\npid %d\ntotal blocks %" PRIu64 " bytes %" PRIu64 "\n", pid, c->blocks,
            c->bytes);
    for (size_t i = 0; i < n; i++) {
        const group *g = &c->by_stack[i];
        fprintf(out, "stack %u count %" PRIu64 " bytes %" PRIu64 "\n", g->stack, g->count, g->bytes);
        uintptr_t f[MAX_FRAMES];
        size_t depth = nth_traces_user_frames(r, s, g->stack, f, MAX_FRAMES);
        for (size_t k = 0; k < depth; k++) {
            frame_text t;
            frame_describe(s, f[k], &t);
            fprintf(out, "  0x%lx %s+0x%" PRIx64 " %s+0x%" PRIx64 "\n", (unsigned long)t.address, t.module,
                    t.module_offset, t.symbol, t.symbol_offset);
        }
    }
    fprintf(out, "end\n");
}

static void write_json(FILE *out, const nth_trace_reader *r, nth_symbolizer *s, const collected *c, size_t n,
                       const nth_target *target)
{
    static const emit_column columns[] = {
        {"address", EMIT_HEX, NULL, NULL}, {"module", EMIT_STR, NULL, NULL}, {"module_offset", EMIT_HEX, NULL, NULL},
        {"symbol", EMIT_STR, NULL, NULL},  {"symbol_offset", EMIT_HEX, NULL, NULL},
    };
    emit e;
    emit_begin(&e, out, true);
    emit_kv_str(&e, "target", NULL, nth_target_describe(target));
    emit_kv_u64(&e, "total_blocks", NULL, c->blocks);
    emit_kv_u64(&e, "total_bytes", NULL, c->bytes);
    emit_array_begin(&e, "stacks");
    for (size_t i = 0; i < n; i++) {
        const group *g = &c->by_stack[i];
        emit_object_begin(&e, NULL, NULL);
        emit_kv_u64(&e, "stack", NULL, g->stack);
        emit_kv_u64(&e, "count", NULL, g->count);
        emit_kv_u64(&e, "bytes", NULL, g->bytes);
        uintptr_t f[MAX_FRAMES];
        size_t depth = nth_traces_user_frames(r, s, g->stack, f, MAX_FRAMES);
        emit_array_begin(&e, "frames");
        for (size_t k = 0; k < depth; k++) {
            frame_text t;
            frame_describe(s, f[k], &t);
            emit_record(&e, columns, 5, NULL, (uint64_t)t.address, t.module, t.module_offset, t.symbol,
                        t.symbol_offset);
        }
        emit_array_end(&e);
        emit_object_end(&e);
    }
    emit_array_end(&e);
    emit_end(&e);
}

int nth_cli_umdh_take(int argc, char **argv)
{
    target_arg target = {0};
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        int taken = target_arg_take(&target, argc, argv, &i, "umdh");
        if (taken < 0) return 2;
        if (taken > 0) continue;
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) path = argv[++i];
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else {
            fprintf(stderr, "ntheap umdh: unknown or incomplete argument \"%s\" (see ntheap umdh --help)\n", argv[i]);
            return 2;
        }
    }
    if (!target_arg_complete(&target, "umdh") || !target_arg_output_ok(&target, path, "umdh")) return 2;
    nth_target *t = target_arg_open(&target, "umdh");
    if (!t) return 2;
    nth_trace_reader r;
    if (!nth_traces_open(t, &r)) {
        fprintf(stderr, "ntheap umdh: %s has no stack-trace database (run it with NTHEAP_OPTIONS=stack_traces=1)\n",
                nth_target_describe(t));
        nth_target_close(t);
        return 1;
    }
    collected c = {calloc(r.db.n_stacks ? r.db.n_stacks : 1, sizeof(group)), r.db.n_stacks, 0, 0};
    nth_symbolizer *s = nth_symbolizer_new(t);
    FILE *out = path ? fopen(path, "w") : stdout;
    int status = 0, write_errno = out ? 0 : errno;
    if (!c.by_stack || !s || !out) {
        if (out) fputs("ntheap umdh: out of memory\n", stderr);
        status = 2;
    } else {
        nth_traces_for_each(&r, add_block, &c);
        size_t n = 0;
        for (uint64_t i = 0; i < c.n_stacks; i++)
            if (c.by_stack[i].count) c.by_stack[n++] = c.by_stack[i];
        qsort(c.by_stack, n, sizeof *c.by_stack, by_bytes_desc);
        if (json) write_json(out, &r, s, &c, n, t);
        else write_text(out, &r, s, &c, n, t->pid);
        if (ferror(out)) status = 2, write_errno = EIO;
    }
    if (out && out != stdout && fclose(out) != 0) status = 2, write_errno = errno;
    if (write_errno)
        fprintf(stderr, "ntheap umdh: cannot write the snapshot file %s: %s\n", path ? path : "(standard output)",
                strerror(write_errno));
    if (path && status == 0)
        fprintf(stderr, "ntheap umdh: snapshot of %s written to %s (%" PRIu64 " blocks, %" PRIu64 " bytes)\n",
                nth_target_describe(t), path, c.blocks, c.bytes);
    nth_symbolizer_free(s);
    free(c.by_stack);
    nth_target_close(t);
    return status;
}
