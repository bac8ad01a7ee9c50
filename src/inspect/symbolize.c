/*
 * symbolize.c — names a code address of the target as dladdr would in the target, but from
 * outside: the mapping holding it (/proc/PID/maps or the core's NT_FILE) gives the file and the
 * file offset; the file's PT_LOAD headers turn the offset into a link-time address; the
 * function symbol (.symtab, else .dynsym) whose [value, value + size) holds it names it.
 *
 *   address ─► mapping {start, offset, path} ─► file offset ─► PT_LOAD ─► vaddr ─► symbol
 *   module_base = the mapping of the file's first PT_LOAD page (dladdr's dli_fbase)
 *
 * Files are opened through the target's file root (/proc/PID/root for a live process) and
 * mapped read-only once, kept until the symbolizer is freed; every offset and count read from a
 * file is checked against its size, so a truncated or hostile file names nothing.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/debug_read.h"
#include "inspect/target_internal.h"

#define MAX_FILES 256u
#define MAX_LOADS 16u

typedef struct elf_file {
    char *path;                /* as the target names it */
    const unsigned char *map;  /* NULL: unreadable or not ELF64 */
    size_t size;
    Elf64_Phdr loads[MAX_LOADS];
    size_t n_loads;
    uint64_t first_offset;     /* the first PT_LOAD's page offset */
    Elf64_Shdr symtab, strtab; /* the chosen table (.symtab, else .dynsym); sh_size 0: none */
} elf_file;

struct nth_symbolizer {
    const nth_target *target;
    elf_file files[MAX_FILES];
    size_t n_files;
};

static bool in_file(size_t size, uint64_t offset, uint64_t length)
{
    return offset <= size && length <= size - offset;
}

static bool pick_table(elf_file *f, const Elf64_Ehdr *eh, uint32_t type)
{
    for (size_t i = 0; i < eh->e_shnum; i++) {
        Elf64_Shdr sh, str;
        memcpy(&sh, f->map + eh->e_shoff + i * sizeof sh, sizeof sh);
        if (sh.sh_type != type || sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh->e_shnum ||
            !in_file(f->size, sh.sh_offset, sh.sh_size))
            continue;
        memcpy(&str, f->map + eh->e_shoff + (size_t)sh.sh_link * sizeof str, sizeof str);
        if (!in_file(f->size, str.sh_offset, str.sh_size)) continue;
        f->symtab = sh;
        f->strtab = str;
        return true;
    }
    return false;
}

static void parse(elf_file *f)
{
    Elf64_Ehdr eh;
    if (f->size < sizeof eh) return;
    memcpy(&eh, f->map, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || !in_file(f->size, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
        return;
    for (size_t i = 0; i < eh.e_phnum && f->n_loads < MAX_LOADS; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, f->map + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD) continue;
        uint64_t page = ph.p_offset & ~(uint64_t)4095;
        if (f->n_loads == 0 || page < f->first_offset) f->first_offset = page;
        f->loads[f->n_loads++] = ph;
    }
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || !in_file(f->size, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
        return;
    if (!pick_table(f, &eh, SHT_SYMTAB)) (void)pick_table(f, &eh, SHT_DYNSYM);
}

static elf_file *file_for(nth_symbolizer *s, const char *path)
{
    for (size_t i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].path, path) == 0) return &s->files[i];
    if (s->n_files == MAX_FILES) return NULL;
    elf_file *f = &s->files[s->n_files];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path) return NULL;
    s->n_files++;
    char full[4096];
    snprintf(full, sizeof full, "%s%s", s->target->file_root, path);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return f;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            f->map = m;
            f->size = (size_t)st.st_size;
            parse(f);
        }
    }
    close(fd);
    return f;
}

/* The function symbol holding the link-time address `vaddr`: the one whose range holds it, or
 * else the closest sized-0 function at or below it. */
static bool find_symbol(const elf_file *f, uint64_t vaddr, nth_frame_name *out)
{
    if (f->symtab.sh_size == 0) return false;
    const char *strings = (const char *)f->map + f->strtab.sh_offset;
    size_t n = f->symtab.sh_size / sizeof(Elf64_Sym);
    bool found = false;
    uint64_t best = 0;
    for (size_t i = 0; i < n; i++) {
        Elf64_Sym sym;
        memcpy(&sym, f->map + f->symtab.sh_offset + i * sizeof sym, sizeof sym);
        if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_value > vaddr) continue;
        if (sym.st_name >= f->strtab.sh_size || !memchr(strings + sym.st_name, 0, f->strtab.sh_size - sym.st_name))
            continue;
        bool inside = sym.st_size ? vaddr - sym.st_value < sym.st_size : true;
        if (!inside || (found && sym.st_value < best)) continue;
        /* at one address, prefer a global name to a local alias */
        if (found && sym.st_value == best && ELF64_ST_BIND(sym.st_info) == STB_LOCAL) continue;
        found = true;
        best = sym.st_value;
        out->symbol = strings + sym.st_name;
        out->symbol_address = (uintptr_t)sym.st_value; /* link-time: biased by the caller */
        out->local = ELF64_ST_BIND(sym.st_info) == STB_LOCAL;
    }
    return found;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool nth_symbolize(nth_symbolizer *s, uintptr_t address, nth_frame_name *out)
{
    memset(out, 0, sizeof *out);
    const nth_target *t = s->target;
    const nth_target_mapping *m = NULL;
    size_t lo = 0, hi = t->n_maps;
    while (lo < hi) { /* mappings are sorted and disjoint */
        size_t mid = lo + (hi - lo) / 2;
        if (address < t->maps[mid].start) hi = mid;
        else if (address >= t->maps[mid].end) lo = mid + 1;
        else {
            m = &t->maps[mid];
            break;
        }
    }
    if (!m || m->path[0] != '/') return false;
    elf_file *f = file_for(s, m->path);
    if (!f) return false;
    out->path = f->path;
    out->module = base_name(f->path);
    /* the file's base: the start of its mapping of the first loaded page, else of any mapping */
    out->module_base = m->start - (uintptr_t)m->offset;
    for (size_t i = 0; i < t->n_maps; i++)
        if (strcmp(t->maps[i].path, m->path) == 0 && t->maps[i].offset == f->first_offset) {
            out->module_base = t->maps[i].start;
            break;
        }
    uint64_t offset = m->offset + (address - m->start);
    for (size_t i = 0; i < f->n_loads; i++) {
        const Elf64_Phdr *ph = &f->loads[i];
        if (offset < ph->p_offset || offset - ph->p_offset >= ph->p_filesz) continue;
        uint64_t vaddr = ph->p_vaddr + (offset - ph->p_offset);
        if (find_symbol(f, vaddr, out)) out->symbol_address = (uintptr_t)(address - (vaddr - out->symbol_address));
        break;
    }
    return true;
}

nth_symbolizer *nth_symbolizer_new(const nth_target *target)
{
    nth_symbolizer *s = calloc(1, sizeof *s);
    if (s) s->target = target;
    return s;
}

void nth_symbolizer_free(nth_symbolizer *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_files; i++) {
        if (s->files[i].map) munmap((void *)s->files[i].map, s->files[i].size);
        free(s->files[i].path);
    }
    free(s);
}
