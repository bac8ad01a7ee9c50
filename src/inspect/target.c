/*
 * target.c — the common part of a target: creation and release, its mapping list, the public
 * accessors of <ntheap/inspect.h>. The kind-specific parts are target_pid.c (a live process,
 * and this process, read the same way) and target_core.c.
 */
#include <elf.h>
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

bool nth_target_add_thread(nth_target *t, const nth_target_thread *thread)
{
    nth_target_thread *grown = realloc(t->threads, (t->n_threads + 1) * sizeof *grown);
    if (!grown) return false;
    t->threads = grown;
    t->threads[t->n_threads++] = *thread;
    return true;
}

bool nth_thread_from_regs(nth_target_thread *out, int tid, unsigned em, const uint64_t *regs, size_t n_regs)
{
    size_t need = em == EM_X86_64 ? 27 : em == EM_AARCH64 ? 34 : SIZE_MAX;
    if (n_regs < need || need > sizeof out->regs / sizeof out->regs[0]) return false;
    memset(out, 0, sizeof *out);
    out->tid = tid;
    out->n_regs = need;
    memcpy(out->regs, regs, need * sizeof *regs);
    out->sp = (uintptr_t)(em == EM_X86_64 ? regs[19] : regs[31]);
    uintptr_t red_zone = em == EM_X86_64 ? 128 : 0; /* x86-64 leaf functions keep data below rsp */
    out->live_low = out->sp > red_zone ? out->sp - red_zone : 0;
    return true;
}

unsigned nth_host_machine(void)
{
#if defined(__x86_64__)
    return EM_X86_64;
#elif defined(__aarch64__)
    return EM_AARCH64;
#else
    return 0;
#endif
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
    free(t->threads);
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

size_t nth_target_thread_count(const nth_target *target) { return target->n_threads; }

const nth_target_thread *nth_target_thread_at(const nth_target *target, size_t index)
{
    return index < target->n_threads ? &target->threads[index] : NULL;
}

const char *nth_target_registry_source(const nth_target *target, size_t heap_index)
{
    if (heap_index >= target->n_heaps) return "";
    return target->sources[target->heaps[heap_index].source];
}
