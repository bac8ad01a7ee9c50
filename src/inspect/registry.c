/*
 * registry.c — finds the heaps of a target: every mapped file that defines nth_heap_registry
 * (an executable linked with libntheap.a, libntheap.so, the LD_PRELOAD libntheap-malloc.so,
 * stripped or not: the symbol is in .dynsym of the shared objects and in .symtab of an
 * unstripped static executable), the load bias of that file from its mappings, then the
 * registry itself, checked before anything it says is followed:
 *
 *   magic NTH_REGISTRY_MAGIC, layout_version NTH_LAYOUT_VERSION, heap and segment struct sizes
 *   of this build -> else a one-line error naming both versions (a mismatched build)
 *
 * The heap list is followed through heap->next_heap at most n_heaps steps (and never past a
 * fixed cap), so a damaged or cyclic list ends; the process heap is added if the list missed it.
 *
 * A stripped static executable has no symbol to find: then the writable file-backed mappings
 * (the .data of the executable and libraries, at most 64 MiB each) are searched for the
 * registry's first 16 bytes (magic, this layout version, this build's structure sizes), and a
 * match is believed only if its process heap pointer (or, when the program never used the
 * process heap, its first heap pointer) points to a heap object.
 */
#include <stdlib.h>
#include <string.h>

#include "inspect/target_internal.h"

#define MAX_HEAPS 65536u

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool add_heap(nth_target *t, uintptr_t address, uint32_t source)
{
    if (address == 0) return true;
    for (size_t i = 0; i < t->n_heaps; i++)
        if (t->heaps[i].address == address) return true;
    if ((t->n_heaps & 63) == 0) {
        nth_target_heap *grown = realloc(t->heaps, (t->n_heaps + 64) * sizeof *grown);
        if (!grown) return false;
        t->heaps = grown;
    }
    t->heaps[t->n_heaps++] = (nth_target_heap){address, source};
    return true;
}

/* Checks the registry at `at` and lists its heaps; false with a reason in `error`. */
static bool load_one(nth_target *t, uintptr_t at, const char *file, const char *table, char *error, size_t size)
{
    nth_registry r;
    if (!t->mem.read(&t->mem, at, &r, sizeof r)) {
        nth_target_error(error, size, "the heap registry of %s at %#lx cannot be read", file, (unsigned long)at);
        return false;
    }
    if (r.magic != NTH_REGISTRY_MAGIC) {
        nth_target_error(error, size, "the heap registry of %s at %#lx has magic %#x, not %#x (not an ntheap registry)",
                         file, (unsigned long)at, r.magic, NTH_REGISTRY_MAGIC);
        return false;
    }
    if (r.layout_version != NTH_LAYOUT_VERSION || r.heap_struct_size != sizeof(nth_heap) ||
        r.segment_struct_size != sizeof(nth_segment)) {
        nth_target_error(error, size,
                         "the heap registry of %s has layout version %u (heap %u bytes, segment %u bytes); this "
                         "inspector reads version %u (heap %zu, segment %zu): use the ntheap tool of the target's build",
                         file, r.layout_version, r.heap_struct_size, r.segment_struct_size, NTH_LAYOUT_VERSION,
                         sizeof(nth_heap), sizeof(nth_segment));
        return false;
    }
    if (t->n_sources == sizeof t->sources / sizeof t->sources[0]) return true;
    uint32_t source = t->n_sources++;
    t->registries[source] = at;
    snprintf(t->sources[source], sizeof t->sources[source], "%s (%s)", base_name(file), table);
    if (!t->process_heap) t->process_heap = (uintptr_t)r.process_heap;
    uintptr_t heap = (uintptr_t)r.first_heap;
    size_t limit = r.n_heaps < MAX_HEAPS ? r.n_heaps : MAX_HEAPS;
    for (size_t n = 0; heap && n < limit; n++) {
        if (!add_heap(t, heap, source)) break;
        uintptr_t next = 0;
        if (!t->mem.read(&t->mem, heap + offsetof(nth_heap, next_heap), &next, sizeof next)) break;
        heap = next;
    }
    return add_heap(t, (uintptr_t)r.process_heap, source);
}

/* The fallback of a stripped static executable: the registry searched for by its contents. */
static size_t scan_for_registry(nth_target *t)
{
    const nth_registry want = {.magic = NTH_REGISTRY_MAGIC,
                               .layout_version = NTH_LAYOUT_VERSION,
                               .heap_struct_size = sizeof(nth_heap),
                               .segment_struct_size = sizeof(nth_segment)};
    static uint64_t words[8192];
    size_t found = 0;
    for (size_t i = 0; i < t->n_maps && !found; i++) {
        const nth_target_mapping *m = &t->maps[i];
        if ((m->prot & 6) != 6 || m->path[0] != '/' || m->end - m->start > ((uintptr_t)64 << 20)) continue;
        for (uintptr_t at = m->start; at < m->end && !found; at += sizeof words) {
            size_t n = m->end - at < sizeof words ? (size_t)(m->end - at) : sizeof words;
            if (!t->mem.read(&t->mem, at, words, n)) continue;
            for (size_t w = 0; w + 2 <= n / 8; w++) {
                if (memcmp(&words[w], &want, 16) != 0) continue;
                nth_registry r;
                uint32_t magic = 0;
                uintptr_t address = at + w * 8;
                /* A program that never used the process heap has none: its first heap vouches. */
                uintptr_t heap = 0;
                if (t->mem.read(&t->mem, address, &r, sizeof r))
                    heap = r.process_heap ? (uintptr_t)r.process_heap : (uintptr_t)r.first_heap;
                if (!heap || !t->mem.read(&t->mem, heap + offsetof(nth_heap, magic), &magic, sizeof magic) ||
                    magic != NTH_HEAP_MAGIC)
                    continue;
                char one_error[512];
                if (load_one(t, address, m->path, "found by content", one_error, sizeof one_error)) found++;
                break;
            }
        }
    }
    return found;
}

bool nth_registry_load(nth_target *t, const char *file_root, char *error, size_t size)
{
    char first_error[512] = "";
    size_t found = 0;
    snprintf(t->file_root, sizeof t->file_root, "%s", file_root);
    for (size_t i = 0; i < t->n_maps; i++) {
        const nth_target_mapping *m = &t->maps[i];
        if (m->path[0] != '/') continue;
        bool seen = false; /* each file once: at its first mapping */
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(t->maps[j].path, m->path) == 0;
        if (seen) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s%s", file_root, m->path);
        nth_elf_symbol sym;
        if (!nth_elf_find_symbol(path, "nth_heap_registry", &sym)) continue;
        /* the bias: where the file's first loaded page is mapped */
        uintptr_t bias = 0;
        if (sym.relocatable) {
            bool mapped = false;
            for (size_t j = i; j < t->n_maps && !mapped; j++)
                if (strcmp(t->maps[j].path, m->path) == 0 && t->maps[j].offset == sym.first_offset) {
                    bias = t->maps[j].start - (uintptr_t)sym.first_vaddr;
                    mapped = true;
                }
            if (!mapped) continue;
        }
        char one_error[512];
        if (load_one(t, bias + (uintptr_t)sym.value, m->path, sym.table, one_error, sizeof one_error)) found++;
        else if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", one_error);
    }
    if (found) return true;
    if (!first_error[0] && scan_for_registry(t)) return true;
    if (first_error[0]) nth_target_error(error, size, "%s", first_error);
    else
        nth_target_error(error, size,
                         "%s: no mapped file defines nth_heap_registry (is it linked with libntheap, or run under "
                         "libntheap-malloc.so?)", t->describe);
    return false;
}
