/*
 * target.c — the common part of a target: creation and release, its mapping list, the public
 * accessors of <ntheap/inspect.h>. The kind-specific parts are target_pid.c (a live process,
 * and this process, read the same way) and target_core.c.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/target_internal.h"

void nth_target_error(char *error, size_t size, const char *format, ...)
{
    if (!error || size == 0) return;
    va_list ap;
    va_start(ap, format);
    vsnprintf(error, size, format, ap);
    va_end(ap);
}

nth_target *nth_target_new(enum nth_target_kind kind)
{
    nth_target *t = calloc(1, sizeof *t);
    if (t) t->kind = kind;
    return t;
}

bool nth_target_add_mapping(nth_target *t, uintptr_t start, uintptr_t end, uint64_t offset, unsigned prot,
                            const char *path)
{
    if (end <= start) return true;
    if (t->n_maps == t->cap_maps) {
        size_t capacity = t->cap_maps ? t->cap_maps * 2 : 64;
        nth_target_mapping *grown = realloc(t->maps, capacity * sizeof *grown);
        if (!grown) return false;
        t->maps = grown;
        t->cap_maps = capacity;
    }
    char *copy = strdup(path ? path : "");
    if (!copy) return false;
    t->maps[t->n_maps++] = (nth_target_mapping){start, end, offset, prot, copy};
    return true;
}

static int by_start(const void *a, const void *b)
{
    const nth_target_mapping *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

void nth_target_sort_mappings(nth_target *t)
{
    if (t->n_maps > 1) qsort(t->maps, t->n_maps, sizeof *t->maps, by_start);
}

void nth_target_free(nth_target *t)
{
    for (size_t i = 0; i < t->n_maps; i++) free((char *)t->maps[i].path);
    free(t->maps);
    free(t->heaps);
    free(t->inner.items);
    free(t->outer.items);
    free(t);
}

void nth_target_close(nth_target *target)
{
    if (!target) return;
    if (target->kind == NTH_TARGET_CORE) nth_target_release_core(target);
    else nth_target_release_live(target);
    nth_target_free(target);
}

const nth_mem *nth_target_mem(const nth_target *target) { return &target->mem; }

int nth_target_read(const nth_target *target, uintptr_t address, void *buffer, size_t length)
{
    return target->mem.read(&target->mem, address, buffer, length) ? 0 : -1;
}

size_t nth_target_heap_count(const nth_target *target) { return target->n_heaps; }

uintptr_t nth_target_heap_address(const nth_target *target, size_t index)
{
    return index < target->n_heaps ? target->heaps[index].address : 0;
}

uintptr_t nth_target_process_heap(const nth_target *target) { return target->process_heap; }

const char *nth_target_describe(const nth_target *target) { return target->describe; }

size_t nth_target_mapping_count(const nth_target *target) { return target->n_maps; }

const nth_target_mapping *nth_target_mapping_at(const nth_target *target, size_t index)
{
    return index < target->n_maps ? &target->maps[index] : NULL;
}

const char *nth_target_registry_source(const nth_target *target, size_t heap_index)
{
    if (heap_index >= target->n_heaps) return "";
    return target->sources[target->heaps[heap_index].source];
}
