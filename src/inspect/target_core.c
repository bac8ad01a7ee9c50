/*
 * target_core.c — an ELF core file (gdb's gcore, or the kernel's): memory from the PT_LOAD
 * segments, the mapped files from the NT_FILE note (which file is mapped where, at which
 * offset), from which registry.c finds the registry symbol in the files on disk.
 *
 *   core file   | ELF header | program headers | PT_NOTE (NT_PRSTATUS.., NT_FILE) | PT_LOAD bytes ... |
 *   NT_FILE     count, page_size, count x {start, end, file_ofs (pages)}, count NUL-ended paths
 *   NT_PRSTATUS one per thread: pr_pid at +32, pr_reg (the user_regs words) at +112 (64-bit)
 *
 * The core is mapped read-only. A read is answered only from bytes the file holds: an address
 * in no segment, in a segment's part beyond p_filesz, or beyond the end of a truncated file
 * is unreadable, so a damaged core makes the walk report problems, never fault. A memory image
 * (nth_target_open_image: tests, the fuzz target) is read the same way from a caller's buffer.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/target_internal.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

static const nth_core_segment *segment_of(const nth_target *t, uintptr_t address)
{
    size_t lo = 0, hi = t->n_segs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (address < t->segs[mid].start) hi = mid;
        else if (address >= t->segs[mid].end) lo = mid + 1;
        else return &t->segs[mid];
    }
    return NULL;
}

static bool read_core(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    const nth_target *t = mem->context;
    unsigned char *out = buffer;
    if (address == 0 || address + length < address) return false;
    while (length > 0) {
        const nth_core_segment *s = segment_of(t, address);
        if (!s) return false;
        uint64_t in_seg = address - s->start;
        if (in_seg >= s->filesz || s->offset > t->core_size || s->filesz > t->core_size - s->offset) return false;
        size_t n = s->end - address;
        if (n > s->filesz - in_seg) n = (size_t)(s->filesz - in_seg);
        if (n > length) n = length;
        memcpy(out, t->core + s->offset + in_seg, n);
        out += n;
        address += n;
        length -= n;
    }
    return true;
}

static int by_segment_start(const void *a, const void *b)
{
    const nth_core_segment *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

typedef struct file_entry {
    uint64_t start, end, offset;
    const char *path;
} file_entry;

/* One note of a PT_NOTE segment's bytes: its type and descriptor. */
typedef struct core_note {
    uint32_t type;
    const unsigned char *desc;
    size_t size;
} core_note;

/* The note at *at in [p, p + size), and *at moved past it; false past the last note or at one
 * whose name or descriptor runs past the segment. */
static bool next_note(const unsigned char *p, size_t size, size_t *at, core_note *out)
{
    if (size < 12 || *at > size - 12) return false;
    uint32_t namesz, descsz;
    memcpy(&namesz, p + *at, 4);
    memcpy(&descsz, p + *at + 4, 4);
    memcpy(&out->type, p + *at + 8, 4);
    size_t desc_at = *at + 12 + (((size_t)namesz + 3) & ~(size_t)3);
    if (desc_at > size || descsz > size - desc_at) return false;
    out->desc = p + desc_at;
    out->size = descsz;
    *at = desc_at + (((size_t)descsz + 3) & ~(size_t)3);
    return true;
}

/* Parses the NT_FILE note in [p, p + size) of the core into entries (malloc'ed). */
static size_t parse_nt_file(const unsigned char *p, size_t size, file_entry **out)
{
    size_t at = 0;
    core_note note;
    while (next_note(p, size, &at, &note)) {
        if (note.type != NT_FILE || note.size < 16) continue;
        const unsigned char *d = note.desc;
        uint64_t count, page;
        memcpy(&count, d, 8);
        memcpy(&page, d + 8, 8);
        if (count > (note.size - 16) / 24) return 0;
        file_entry *e = calloc(count ? count : 1, sizeof *e);
        if (!e) return 0;
        const char *names = (const char *)d + 16 + count * 24, *end = (const char *)d + note.size;
        for (uint64_t i = 0; i < count; i++) {
            memcpy(&e[i].start, d + 16 + i * 24, 8);
            memcpy(&e[i].end, d + 16 + i * 24 + 8, 8);
            memcpy(&e[i].offset, d + 16 + i * 24 + 16, 8);
            e[i].offset *= page;
            const char *nul = names < end ? memchr(names, '\0', (size_t)(end - names)) : NULL;
            e[i].path = nul ? names : "";
            names = nul ? nul + 1 : end;
        }
        *out = e;
        return (size_t)count;
    }
    return 0;
}

#define PRSTATUS_PID 32
#define PRSTATUS_REGS 112

/* Adds a thread for every NT_PRSTATUS note in [p, p + size) of a core of machine `em`. */
static bool parse_threads(nth_target *t, const unsigned char *p, size_t size, unsigned em)
{
    size_t at = 0;
    core_note note;
    while (next_note(p, size, &at, &note)) {
        if (note.type != NT_PRSTATUS || note.size <= PRSTATUS_REGS) continue;
        uint64_t regs[40];
        size_t n = (note.size - PRSTATUS_REGS) / 8;
        if (n > 40) n = 40;
        memcpy(regs, note.desc + PRSTATUS_REGS, n * 8);
        int32_t pid;
        memcpy(&pid, note.desc + PRSTATUS_PID, 4);
        nth_target_thread thread;
        if (nth_thread_from_regs(&thread, pid, em, regs, n) && !nth_target_add_thread(t, &thread)) return false;
    }
    return true;
}

static bool load(nth_target *t, char *error, size_t size)
{
    Elf64_Ehdr eh;
    if (t->core_size < sizeof eh) goto not_core;
    memcpy(&eh, t->core, sizeof eh);
    size_t phnum = eh.e_phnum;
    if (phnum == PN_XNUM && eh.e_shoff && eh.e_shoff <= t->core_size - sizeof(Elf64_Shdr)) {
        Elf64_Shdr first; /* more than 65534 segments: the count is in section 0's sh_info */
        memcpy(&first, t->core + eh.e_shoff, sizeof first);
        phnum = first.sh_info;
    }
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_CORE ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > t->core_size ||
        (uint64_t)phnum * sizeof(Elf64_Phdr) > t->core_size - eh.e_phoff)
        goto not_core;
    t->segs = calloc(phnum ? phnum : 1, sizeof *t->segs);
    if (!t->segs) goto oom;
    file_entry *files = NULL;
    size_t n_files = 0;
    Elf64_Phdr *ph = calloc(phnum ? phnum : 1, sizeof *ph);
    if (!ph) goto oom;
    memcpy(ph, t->core + eh.e_phoff, phnum * sizeof *ph);
    for (size_t i = 0; i < phnum; i++) {
        bool note = ph[i].p_type == PT_NOTE && ph[i].p_offset <= t->core_size &&
                    ph[i].p_filesz <= t->core_size - ph[i].p_offset;
        if (note && !files) n_files = parse_nt_file(t->core + ph[i].p_offset, (size_t)ph[i].p_filesz, &files);
        if (note && !parse_threads(t, t->core + ph[i].p_offset, (size_t)ph[i].p_filesz, eh.e_machine)) {
            free(ph);
            free(files);
            goto oom;
        }
        if (ph[i].p_type == PT_LOAD && ph[i].p_memsz)
            t->segs[t->n_segs++] = (nth_core_segment){(uintptr_t)ph[i].p_vaddr, (uintptr_t)(ph[i].p_vaddr + ph[i].p_memsz),
                                                      ph[i].p_offset, ph[i].p_filesz};
    }
    qsort(t->segs, t->n_segs, sizeof *t->segs, by_segment_start);
    bool ok = true;
    for (size_t i = 0; i < phnum && ok; i++) {
        if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz) continue;
        unsigned prot = ((ph[i].p_flags & PF_R) ? 4u : 0u) | ((ph[i].p_flags & PF_W) ? 2u : 0u) |
                        ((ph[i].p_flags & PF_X) ? 1u : 0u);
        const char *path = "";
        uint64_t offset = 0;
        for (size_t f = 0; f < n_files; f++)
            if (files[f].start <= ph[i].p_vaddr && ph[i].p_vaddr < files[f].end) {
                path = files[f].path;
                offset = files[f].offset + (ph[i].p_vaddr - files[f].start);
            }
        ok = nth_target_add_mapping(t, (uintptr_t)ph[i].p_vaddr, (uintptr_t)(ph[i].p_vaddr + ph[i].p_memsz), offset, prot,
                                    path);
    }
    for (size_t f = 0; f < n_files && ok; f++) { /* files with no segment of their own */
        bool covered = false;
        for (size_t s = 0; s < t->n_segs && !covered; s++) covered = t->segs[s].start == files[f].start;
        if (!covered) ok = nth_target_add_mapping(t, files[f].start, files[f].end, files[f].offset, 4, files[f].path);
    }
    free(ph);
    free(files);
    if (!ok) goto oom;
    nth_target_sort_mappings(t);
    if (n_files == 0) {
        nth_target_error(error, size, "%s: no NT_FILE note (which files are mapped where): cannot find the heap registry",
                         t->describe);
        return false;
    }
    return nth_registry_load(t, "", error, size);
not_core:
    nth_target_error(error, size, "%s: not an ELF64 core file", t->describe);
    return false;
oom:
    nth_target_error(error, size, "out of memory");
    return false;
}

nth_target *nth_target_open_core(const char *path, char *error, size_t size)
{
    /* O_NONBLOCK: a FIFO or a device given as the core must not block the open; only a regular
     * file is read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        nth_target_error(error, size, "core %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    nth_target *t = nth_target_new(NTH_TARGET_CORE);
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (!t || !regular || st.st_size <= 0) {
        nth_target_error(error, size, "core %s: %s", path,
                         !t ? "out of memory" : regular ? "empty or unreadable" : "not a regular file");
        close(fd);
        if (t) nth_target_free(t);
        return NULL;
    }
    t->core_size = (size_t)st.st_size;
    void *map = mmap(NULL, t->core_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        nth_target_error(error, size, "core %s: cannot map it: %s", path, strerror(errno));
        nth_target_free(t);
        return NULL;
    }
    t->core = map;
    t->mem = (nth_mem){read_core, nth_target_owner_of, t};
    snprintf(t->describe, sizeof t->describe, "core %s", path);
    if (!load(t, error, size)) {
        nth_target_close(t);
        return NULL;
    }
    return t;
}

nth_target *nth_target_open_image(const unsigned char *bytes, size_t size, const nth_core_segment *segs, size_t n_segs,
                                  const uintptr_t *heaps, size_t n_heaps, char *error, size_t error_size)
{
    nth_target *t = nth_target_new(NTH_TARGET_CORE);
    if (!t) goto oom;
    t->core_borrowed = true;
    t->core = bytes;
    t->core_size = size;
    t->mem = (nth_mem){read_core, nth_target_owner_of, t};
    snprintf(t->describe, sizeof t->describe, "memory image (%zu bytes)", size);
    t->segs = calloc(n_segs ? n_segs : 1, sizeof *t->segs);
    t->heaps = calloc(n_heaps ? n_heaps : 1, sizeof *t->heaps);
    if (!t->segs || !t->heaps) goto oom;
    for (size_t i = 0; i < n_segs; i++) {
        if (segs[i].end <= segs[i].start) continue;
        t->segs[t->n_segs++] = segs[i];
        if (!nth_target_add_mapping(t, segs[i].start, segs[i].end, 0, 6, "")) goto oom;
    }
    qsort(t->segs, t->n_segs, sizeof *t->segs, by_segment_start);
    nth_target_sort_mappings(t);
    snprintf(t->sources[0], sizeof t->sources[0], "the image's heap list");
    t->n_sources = 1;
    for (size_t i = 0; i < n_heaps; i++) {
        bool seen = false;
        for (size_t j = 0; j < t->n_heaps && !seen; j++) seen = t->heaps[j].address == heaps[i];
        if (!seen && heaps[i]) t->heaps[t->n_heaps++] = (nth_target_heap){heaps[i], 0};
    }
    t->process_heap = t->n_heaps ? t->heaps[0].address : 0;
    return t;
oom:
    nth_target_error(error, error_size, "out of memory");
    if (t) nth_target_close(t);
    return NULL;
}

void nth_target_release_core(nth_target *t)
{
    if (t->core && !t->core_borrowed) munmap((void *)t->core, t->core_size);
    free(t->segs);
}
