/*
 * cmd_heap.c — `ntheap heap`: arguments, opening the target, the heap list (WinDbg's !heap),
 * the functions the views share, and the exit status. The views are in cmd_heap_*.c.
 *
 *   ntheap heap (-p PID | -c CORE | --self) [--no-stop] [--json]
 *               [-s [HEAP] | -h [HEAP] | -hl [HEAP] | -i ADDR | -x ADDR | -stat [-h HEAP]
 *                | -flt s SIZE | -flt r MIN MAX | -l]
 *
 * Numbers are hexadecimal, with or without 0x, as WinDbg reads them; HEAP is an address or the
 * 1-based index the list prints.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_heap.h"
#include "target_arg.h"

static const char usage_text[] =
    "usage: ntheap heap (-p PID | -c CORE | --self) [--no-stop] [--json] [VIEW]\n"
    "views (WinDbg's !heap; numbers in hex):\n"
    "  (none)           the heap list                       (!heap)\n"
    "  -s [HEAP]        summary: reserve, commit, free, UCRs (!heap -s);\n"
    "                   of one HEAP: its labelled summary    (!heap -s HEAP)\n"
    "  -h [HEAP]        segments and entries                (!heap -h)\n"
    "  -hl [HEAP]       the same with LFH slots, busy and free (!heap -hl)\n"
    "  -i ADDR          one block decoded                   (!heap -i)\n"
    "  -x ADDR          the block containing an address     (!heap -x)\n"
    "  -stat [-h HEAP]  busy blocks by size                 (!heap -stat)\n"
    "  -flt s SIZE      busy blocks of a size               (!heap -flt s)\n"
    "  -flt r MIN MAX   busy blocks of MIN <= size < MAX    (!heap -flt r)\n"
    "  -l               leak candidates: unreachable busy blocks (!heap -l);\n"
    "                   stacks are roots from each thread's stack pointer up\n"
    "  -a ADDR          the block containing ADDR with its allocation (and free) stack\n"
    "                   from the stack-trace database   (!heap -p -a; -p is the pid here)\n"
    "  -t [--sort bytes|allocs] [--watch SECONDS [--count N]]\n"
    "                   per-tag allocations, frees, bytes, peak (poolmon); --watch\n"
    "                   refreshes a live process every SECONDS until interrupted or N times\n"
    "-p stops the process (every thread, ptrace) while it is read; --no-stop reads it running.\n"
    "-a and -t read the debug heap's tables (NTHEAP_OPTIONS stack_traces=1, page_heap, tags).\n"
    "Exit status: 0 sound, 1 problems found (or -a/-x: no such block, -t: no tags), 2 bad usage\n"
    "or the target cannot be opened.\n";

/* A hex number (0x optional) that fits 64 bits, without sign or anything after it. */
bool heap_parse_hex(const char *text, uint64_t *out)
{
    uintptr_t v;
    if (!text || !target_arg_address(text, &v)) return false;
    *out = v;
    return true;
}

bool heap_bool_at(const void *object, size_t offset)
{
    unsigned char byte;
    memcpy(&byte, (const unsigned char *)object + offset, 1);
    return byte != 0;
}

bool heap_read(heap_cli *c, uintptr_t address, nth_heap *out)
{
    if (nth_target_read(c->target, address, out, sizeof *out) == 0 && out->magic == NTH_HEAP_MAGIC &&
        out->layout_version == NTH_LAYOUT_VERSION) {
        out->terminate_on_corruption = heap_bool_at(out, offsetof(nth_heap, terminate_on_corruption));
        return true;
    }
    c->problems++;
    emit_kv_str(&c->e, "problem", "ntheap: ", "the heap object cannot be read or is not a heap of this layout");
    return false;
}

bool heap_selected(const heap_cli *c, uintptr_t address)
{
    return c->heap_arg == 0 || c->heap_arg == address;
}

size_t heap_index_of(const heap_cli *c, uintptr_t address)
{
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++)
        if (nth_target_heap_address(c->target, i) == address) return i + 1;
    return 0;
}

void heap_report_problems(heap_cli *c, uintptr_t heap, const nth_iter *it)
{
    if (it->problems == 0) return;
    c->problems += it->problems;
    char text[512];
    snprintf(text, sizeof text, "%u problem(s) in heap %0*lx; first at %0*lx: expected %s, found %s",
             it->problems, ADDR_DIGITS, (unsigned long)heap, ADDR_DIGITS, (unsigned long)it->problem.address,
             it->problem.expected, it->problem.found);
    emit_kv_u64(&c->e, "problems", NULL, it->problems);
    emit_kv_str(&c->e, "first_problem", "ntheap: ", text);
}

const char *heap_flag_words(const nth_walk_entry *entry, char *buffer, size_t size)
{
    uint16_t f = entry->flags;
    snprintf(buffer, size, "%s%s%s%s%s%s", (f & NTH_ENTRY_BUSY) ? "busy " : "free ", (f & NTH_ENTRY_BIG) ? "virtual " : "",
             (f & NTH_ENTRY_LFH) ? "LFH " : "", (f & NTH_ENTRY_INTERNAL) ? "internal " : "",
             (f & NTH_ENTRY_USER_VALUE) ? "extra " : "", (f & 0x0E00u) ? "user_flag " : "");
    if (f & NTH_ENTRY_DAMAGED) snprintf(buffer, size, "free damaged ");
    return buffer;
}

/* The debugging options a heap was created with, in !heap's words. */
static void heap_options(uint32_t flags, char *buffer, size_t size)
{
    snprintf(buffer, size, "%s%s%s", (flags & NTH_TAIL_CHECKING_ENABLED) ? "tail checking " : "",
             (flags & NTH_FREE_CHECKING_ENABLED) ? "free checking " : "",
             (flags & NTH_DISABLE_COALESCE_ON_FREE) ? "no coalesce " : "");
}

int heap_view_list(heap_cli *c)
{
    static const emit_column columns[] = {
        {"index", EMIT_U64, "%3" PRIu64 ":   ", NULL},
        {"address", EMIT_HEX, "%016" PRIx64 " ", NULL},
        {"flags", EMIT_HEX, "%08" PRIx64 "  ", NULL},
        {"options", EMIT_STR, "%s", NULL},
        {"registry", EMIT_STR, NULL, ""},
    };
    emit_table_begin(&c->e, "heaps", "Index   Address          Flags     Debugging options enabled", columns, 5, NULL);
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++) {
        uintptr_t address = nth_target_heap_address(c->target, i);
        nth_heap h;
        char options[96] = "(unreadable)";
        uint32_t flags = 0;
        if (nth_target_read(c->target, address, &h, sizeof h) == 0 && h.magic == NTH_HEAP_MAGIC) {
            heap_options(h.flags, options, sizeof options);
            flags = h.flags | (h.maximum == 0 ? NTH_GROWABLE : 0);
        } else {
            c->problems++;
        }
        emit_row(&c->e, (uint64_t)(i + 1), (uint64_t)address, (uint64_t)flags, options,
                 c->e.json ? nth_target_registry_source(c->target, i) : NULL);
    }
    emit_table_end(&c->e);
    emit_kv_hex(&c->e, "process_heap", NULL, nth_target_process_heap(c->target), ADDR_DIGITS);
    emit_text(&c->e, "(%zu heaps of %s, found through nth_heap_registry in %s)\n", nth_target_heap_count(c->target),
              nth_target_describe(c->target), nth_target_heap_count(c->target) ? nth_target_registry_source(c->target, 0) : "-");
    return 0;
}

typedef int (*view_fn)(heap_cli *c);

static int usage(const char *message)
{
    if (message) fprintf(stderr, "ntheap heap: %s\n", message);
    fputs(usage_text, stderr);
    return 2;
}

/* An optional HEAP operand after a view flag: an address, or a 1-based index. */
static bool heap_operand(int argc, char **argv, int *i, uint64_t *out)
{
    if (*i + 1 >= argc || argv[*i + 1][0] == '-') return true;
    if (!heap_parse_hex(argv[*i + 1], out)) return false;
    (*i)++;
    return true;
}

static int run(int argc, char **argv, bool address_command)
{
    heap_cli c;
    memset(&c, 0, sizeof c);
    const char *command = address_command ? "address" : "heap";
    target_arg target = {0};
    bool json = false;
    view_fn view = address_command ? heap_view_address : heap_view_list;
    uint64_t heap_arg = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--help") == 0) {
            fputs(address_command ? "usage: ntheap address (-p PID | -c CORE | --self) [--no-stop] [--json]\n"
                                    "the regions of every ntheap heap (WinDbg's !address /f:Heap)\n"
                                  : usage_text,
                  stdout);
            return 0;
        }
        int taken = target_arg_take(&target, argc, argv, &i, command);
        if (taken < 0) return 2;
        if (taken > 0) continue;
        if (strcmp(a, "--json") == 0) json = true;
        else if (address_command) return usage("ntheap address takes only a target, --no-stop and --json");
        else if (strcmp(a, "-s") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "-hl") == 0) {
            if (view == heap_view_stat && strcmp(a, "-h") == 0) { /* -stat -h HEAP */
                if (!more || !heap_parse_hex(argv[++i], &heap_arg)) return usage("-stat -h takes a heap");
                continue;
            }
            view = a[1] == 's' ? heap_view_summary : heap_view_entries;
            c.lfh_blocks = strcmp(a, "-hl") == 0;
            if (!heap_operand(argc, argv, &i, &heap_arg)) return usage("bad HEAP operand");
        } else if ((strcmp(a, "-i") == 0 || strcmp(a, "-x") == 0) && more) {
            uint64_t v;
            if (!heap_parse_hex(argv[++i], &v)) return usage("bad address");
            c.address = (uintptr_t)v;
            view = a[1] == 'i' ? heap_view_block : heap_view_containing;
        } else if (strcmp(a, "-a") == 0 && more) {
            if (!target_arg_address(argv[++i], &c.address)) return usage("bad address");
            view = heap_view_page;
        } else if (strcmp(a, "-t") == 0) view = heap_view_tags;
        else if (strcmp(a, "--sort") == 0 && more) {
            const char *by = argv[++i];
            if (strcmp(by, "bytes") != 0 && strcmp(by, "allocs") != 0) return usage("--sort takes bytes or allocs");
            c.sort_allocs = by[0] == 'a';
        } else if ((strcmp(a, "--watch") == 0 || strcmp(a, "--count") == 0) && more) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v == 0 || v > 86400) return usage("--watch and --count take a number from 1 to 86400");
            if (a[2] == 'w') c.watch_seconds = (unsigned)v;
            else c.watch_count = (unsigned)v;
        } else if (strcmp(a, "-stat") == 0) view = heap_view_stat;
        else if (strcmp(a, "-l") == 0) view = heap_view_leaks;
        else if (strcmp(a, "-flt") == 0 && more) {
            view = heap_view_filter;
            const char *kind = argv[++i];
            if (strcmp(kind, "s") == 0 && i + 1 < argc && heap_parse_hex(argv[i + 1], &c.min_size)) {
                c.max_size = c.min_size;
                i++;
            } else if (strcmp(kind, "r") == 0 && i + 2 < argc && heap_parse_hex(argv[i + 1], &c.min_size) &&
                       heap_parse_hex(argv[i + 2], &c.max_size) && c.max_size > c.min_size) {
                c.max_size--; /* MIN <= size < MAX */
                i += 2;
            } else {
                return usage("-flt takes s SIZE or r MIN MAX (MIN < MAX)");
            }
        } else {
            char message[128];
            snprintf(message, sizeof message, "unknown or incomplete argument \"%s\"", a);
            return usage(message);
        }
    }
    if ((c.sort_allocs || c.watch_seconds || c.watch_count) && view != heap_view_tags)
        return usage("--sort, --watch and --count go with -t");
    if (c.watch_seconds && target.pid == 0) return usage("--watch needs a live process (-p PID)");
    if (c.watch_count && !c.watch_seconds) return usage("--count goes with --watch");
    if (!target_arg_complete(&target, command)) return 2;
    if (view == heap_view_tags && c.watch_seconds) return heap_watch_tags(&c, &target, json);
    if (!(c.target = target_arg_open(&target, command))) return 2;
    if (heap_arg > 0 && heap_arg <= nth_target_heap_count(c.target)) heap_arg = nth_target_heap_address(c.target, heap_arg - 1);
    c.heap_arg = (uintptr_t)heap_arg;
    if (c.heap_arg && !heap_index_of(&c, c.heap_arg)) {
        fprintf(stderr, "ntheap: %lx is not a heap of %s (see ntheap heap -p/-c without a view)\n",
                (unsigned long)c.heap_arg, nth_target_describe(c.target));
        nth_target_close(c.target);
        return 2;
    }
    emit_begin(&c.e, stdout, json);
    emit_kv_str(&c.e, "target", NULL, nth_target_describe(c.target));
    int status = view(&c);
    emit_kv_u64(&c.e, "problems_total", NULL, c.problems);
    emit_end(&c.e);
    nth_target_close(c.target);
    if (status) return status;
    return c.problems ? 1 : 0;
}

int nth_cli_heap(int argc, char **argv) { return run(argc, argv, false); }

int nth_cli_address(int argc, char **argv) { return run(argc, argv, true); }
