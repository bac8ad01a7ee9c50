/*
 * cmd_dt.c — `ntheap dt TYPE ADDR (-p PID | -c CORE | --self) [--json]`: one of ntheap's own
 * structures field by field (src/inspect/dt.c), the way WinDbg's `dt _HEAP ADDR` shows
 * Windows' structures:
 *
 *   ntheap!nth_heap at 0x7f...0000 (0x1978 bytes; its counterpart in Windows: _HEAP)
 *      +0x000 [  16] header_block            : nth_block_header
 *      +0x1e8 [   4] magic                   : 0xeeffeeff uint32_t
 *      +0x288 [   8] first_segment           : 0x7f...0010 nth_segment *
 *
 * Offsets, sizes and values come from the engine's structures, never from Windows' layout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd_dt.h"
#include "emit.h"
#include "inspect/dt.h"
#include "target_arg.h"

static void usage(FILE *out)
{
    fputs("usage: ntheap dt TYPE ADDR (-p PID | -c CORE | --self) [--no-stop] [--json]\n"
          "\n"
          "Shows the ntheap structure of TYPE at address ADDR (hexadecimal) of a target, field\n"
          "by field with offset, size, type and value, as WinDbg's `dt _HEAP ADDR` shows\n"
          "Windows' structures. TYPE is one of (the Windows name is accepted too):\n"
          "\n",
          out);
    size_t n;
    const nth_dt_type *types = nth_dt_types(&n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-11s %-19s (Windows: %s)\n", types[i].name, types[i].c_name, types[i].windows);
    fputs("\n"
          "  -p PID      a live process, stopped while it is read (needs ptrace rights)\n"
          "  -c CORE     a core file\n"
          "  --self      the ntheap process itself\n"
          "  --json      one JSON object instead of text\n"
          "\n"
          "Exit status: 0 shown, 1 the address does not hold that structure (its magic number\n"
          "differs) or cannot be read, 2 bad usage or the target cannot be read.\n",
          out);
}

/* Shows `type` at `address` of an open target; the exit status (0, or 1: not that structure). */
int nth_cli_dt_show(nth_target *target, const nth_dt_type *type, uintptr_t address, bool json)
{
    const nth_mem *mem = nth_target_mem(target);
    uint32_t found = 0;
    bool readable = mem->read(mem, address, &found, 1);
    bool matches = nth_dt_check(type, mem, address, &found);
    emit e;
    emit_begin(&e, stdout, json);
    emit_kv_str(&e, "type", NULL, type->name);
    emit_kv_str(&e, "c_name", NULL, type->c_name);
    emit_kv_str(&e, "windows", NULL, type->windows);
    emit_kv_hex(&e, "address", NULL, address, 0);
    emit_kv_u64(&e, "size", NULL, type->size);
    emit_kv_bool(&e, "magic_matches", NULL, matches);
    emit_text(&e, "ntheap!%s at 0x%" PRIxPTR " (0x%" PRIx32 " bytes; its counterpart in Windows: %s)\n", type->c_name,
              address, type->size, type->windows);
    if (!readable)
        emit_text(&e, "   (memory at 0x%" PRIxPTR " cannot be read in %s)\n", address, nth_target_describe(target));
    else if (!matches)
        emit_text(&e, "   (not a %s: the magic number there is 0x%08" PRIx32 ", expected 0x%08" PRIx32 ")\n",
                  type->c_name, found, type->magic);
    static const emit_column columns[] = {
        {"offset", EMIT_HEX, "   +0x%03" PRIx64, NULL},
        {"size", EMIT_U64, " [%4" PRIu64 "] ", NULL},
        {"name", EMIT_STR, "%-24s: ", NULL},
        {"value", EMIT_STR, "%s ", ""},
        {"type", EMIT_STR, "%s", NULL},
    };
    emit_table_begin(&e, "fields", NULL, columns, 5, NULL);
    for (size_t i = 0; readable && i < type->n_fields; i++) {
        const nth_dt_field *f = &type->fields[i];
        char value[40];
        uint64_t v;
        const char *shown = NULL;
        if (nth_dt_value(f, mem, address, &v)) {
            if (f->kind == NTH_DT_BOOL) snprintf(value, sizeof value, "%s", v ? "true" : "false");
            else if (f->kind == NTH_DT_PTR && v == 0) snprintf(value, sizeof value, "(null)");
            else snprintf(value, sizeof value, "0x%" PRIx64, v);
            shown = value;
        } else if (f->kind != NTH_DT_STRUCT && f->kind != NTH_DT_ARRAY) {
            shown = "(unreadable)";
        }
        char type_text[64];
        snprintf(type_text, sizeof type_text, "%s%s", f->type, f->kind == NTH_DT_PTR ? " *" : "");
        emit_row(&e, (uint64_t)f->offset, (uint64_t)f->size, f->name, shown, type_text);
    }
    emit_table_end(&e);
    emit_end(&e);
    return readable && matches ? 0 : 1;
}

int nth_cli_dt(int argc, char **argv)
{
    target_arg t = {0};
    bool json = false;
    const char *positional[2] = {NULL, NULL};
    int n_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--json") == 0) {
            json = true;
            continue;
        }
        int taken = target_arg_take(&t, argc, argv, &i, "dt");
        if (taken < 0) return 2;
        if (taken) continue;
        if (arg[0] != '-' && n_positional < 2) {
            positional[n_positional++] = arg;
            continue;
        }
        fprintf(stderr, "ntheap dt: unexpected argument \"%s\"\n", arg);
        usage(stderr);
        return 2;
    }
    if (n_positional < 2) {
        fputs("ntheap dt: give a TYPE and an ADDR\n", stderr);
        usage(stderr);
        return 2;
    }
    const nth_dt_type *type = nth_dt_find(positional[0]);
    if (!type) {
        fprintf(stderr, "ntheap dt: unknown type \"%s\" (see ntheap dt --help)\n", positional[0]);
        return 2;
    }
    uintptr_t address;
    if (!target_arg_address(positional[1], &address)) {
        fprintf(stderr, "ntheap dt: \"%s\" is not a hexadecimal address\n", positional[1]);
        return 2;
    }
    if (!target_arg_complete(&t, "dt")) return 2;
    nth_target *target = target_arg_open(&t, "dt");
    if (!target) return 2;
    int status = nth_cli_dt_show(target, type, address, json);
    nth_target_close(target);
    return status;
}
