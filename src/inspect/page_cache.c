/*
 * page_cache.c — reads of a live process (or of this one) through process_vm_readv, one 64 KiB
 * line at a time, so a walk of a million blocks costs a few thousand system calls, not a
 * million.
 *
 *   line (64 KiB aligned)  | page 0 | page 1 | ... | page 15 |    valid: one bit per page
 *
 * A line is filled once, with one call per readable run of it (the mappings say which pages
 * are readable; uncommitted parts of a segment are PROT_NONE). A call that stops short marks
 * the pages it got, skips the page it could not read and goes on, so a line costs at most 16
 * calls even when the mappings changed under a target that was not stopped. A read is
 * answered only from valid pages; it never faults, whatever the address.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "inspect/target_internal.h"

#define PAGE 4096u
#define PAGES_PER_LINE (NTH_CACHE_LINE / PAGE)

/* Readable part of [lo, hi) starting at or after lo, clipped by the mappings: [*a, *b). */
static bool next_readable(const nth_target *t, uintptr_t lo, uintptr_t hi, uintptr_t *a, uintptr_t *b)
{
    for (size_t i = 0; i < t->n_maps; i++) {
        const nth_target_mapping *m = &t->maps[i];
        if (m->end <= lo || !(m->prot & 4)) continue;
        if (m->start >= hi) return false;
        *a = m->start > lo ? m->start : lo;
        *b = m->end < hi ? m->end : hi;
        return true;
    }
    return false;
}

static void fill(nth_page_cache *c, nth_cache_line *line)
{
    uintptr_t base = line->base, end = base + NTH_CACHE_LINE, lo = base, a, b;
    line->valid = 0;
    while (lo < end && next_readable(c->target, lo, end, &a, &b)) {
        while (a < b) {
            struct iovec local = {line->bytes + (a - base), b - a};
            struct iovec remote = {(void *)a, b - a};
            ssize_t got = process_vm_readv(c->pid, &local, 1, &remote, 1, 0);
            c->syscalls++;
            size_t pages = got > 0 ? (size_t)got / PAGE : 0;
            for (size_t p = 0; p < pages; p++) line->valid |= (uint16_t)(1u << ((a - base) / PAGE + p));
            a += (pages + (got == (ssize_t)(b - a) ? 0 : 1)) * PAGE; /* skip the page that failed */
        }
        lo = b;
    }
}

bool nth_cache_read(nth_page_cache *c, uintptr_t address, void *buffer, size_t length)
{
    unsigned char *out = buffer;
    if (address + length < address) return false;
    while (length > 0) {
        uintptr_t base = address & ~(uintptr_t)(NTH_CACHE_LINE - 1);
        nth_cache_line *line = &c->lines[(base >> NTH_CACHE_LINE_LG) % NTH_CACHE_LINES];
        if (line->base != base || !line->bytes) {
            if (!line->bytes && !(line->bytes = malloc(NTH_CACHE_LINE))) return false;
            line->base = base;
            fill(c, line);
        }
        size_t offset = address - base, n = NTH_CACHE_LINE - offset;
        if (n > length) n = length;
        for (size_t p = offset / PAGE; p <= (offset + n - 1) / PAGE; p++)
            if (!(line->valid & (1u << p))) return false;
        memcpy(out, line->bytes + offset, n);
        out += n;
        address += n;
        length -= n;
    }
    return true;
}

void nth_cache_release(nth_page_cache *c)
{
    for (size_t i = 0; i < NTH_CACHE_LINES; i++) free(c->lines[i].bytes);
    free(c);
}
