/*
 * pst_cli.h — what the `ntheap pst` command files share: options and the emitter every view
 * writes through (emit.h: each value once, as text or --json), names of codes, the list of
 * findings a command prints, and one way to fail (a message on stderr and, with --json, a JSON
 * object with an "error" field on stdout).
 *
 *     cmd_pst.c          argument parsing and dispatch
 *     cmd_pst_file.c     info, validate
 *     cmd_pst_heaps.c    heaps, hn
 *     cmd_pst_props.c    props, table
 *     cmd_pst_browse.c   tree, ls
 *     cmd_pst_set.c      set
 */
#ifndef NTH_CLI_PST_SHARED_H
#define NTH_CLI_PST_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emit.h"
#include "ntheap/pst.h"

typedef struct pst_opts {
    bool json;
    bool raw;
    const char *file;
    const char *command;
    const char *arg;    /* the node path or folder */
    const char *tag;    /* set: 0xIIIITTTT */
    const char *value;  /* set: the new value */
    emit *e;            /* the one output document (begun and ended by the dispatcher) */
} pst_opts;

/* Prints a failure: "ntheap pst: <message>" on stderr, and with --json the members
 * "file", "command" and "error" (the message) of the output object. Returns 1. A view fails
 * before it emits anything else. */
int pst_cli_fail(const pst_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same report for bad arguments or a file that cannot be opened; returns 2. */
int pst_cli_refuse(const pst_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The error members alone (bad usage: the usage text is on stderr already). */
void pst_cli_error_members(const pst_opts *o, const char *message);

const char *pst_client_name(uint8_t sig);
const char *pst_crypt_name(uint8_t c);
const char *pst_where_name(nth_pst_where w);
/* The name of a property id: the standard tag name, or for 0x8000 and up the property set
 * and name from the file's name-to-id map (read once); NULL when unknown. */
const char *pst_prop_name(nth_pst_file *f, uint16_t id, char *buf, size_t size);

/* Fill levels of all pages as hex digits, page 0 first. */
void pst_fill_string(const nth_pst_hn *hn, char *buf, size_t size, bool actual);

/* Findings in print order; hints are prefixed "note: ". */
typedef struct pst_findings {
    char **items;
    size_t count, problems, hints;
} pst_findings;

void pst_findings_add(pst_findings *l, bool hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pst_findings_free(pst_findings *l);
/* nth_pst_problem_fn that appends to a pst_findings. */
void pst_findings_sink(void *ctx, const nth_pst_error *e, bool hint);
/* Emits the items as the array `key`; text: each through `fmt`. */
void pst_findings_emit(const pst_opts *o, const char *key, const char *fmt, const pst_findings *l);

int pst_cmd_info(nth_pst_file *f, const pst_opts *o);
int pst_cmd_validate(nth_pst_file *f, const pst_opts *o);
int pst_cmd_heaps(nth_pst_file *f, const pst_opts *o);
int pst_cmd_hn(nth_pst_file *f, const pst_opts *o);
int pst_cmd_props(nth_pst_file *f, const pst_opts *o);
int pst_cmd_table(nth_pst_file *f, const pst_opts *o);
int pst_cmd_tree(nth_pst_file *f, const pst_opts *o);
int pst_cmd_ls(nth_pst_file *f, const pst_opts *o);
/* `set` writes the file, so it runs on the path, not on an open handle. */
int pst_cmd_set(const pst_opts *o);

#endif
