/*
 * elf_symbols.c — a symbol's value in an ELF64 file on disk (.dynsym first, then .symtab), and
 * the file's load layout (lowest PT_LOAD), from which a reader computes the load bias:
 *
 *   address of symbol = mapping start of the file's first PT_LOAD - first_vaddr + value
 *                       (relocatable objects; executables: value)
 *
 * The file is mapped read-only; every offset and size read from it is checked against the file's
 * size before use, so a truncated or hostile file yields "not found", never a fault.
 */
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/target_internal.h"

static bool in_file(size_t size, uint64_t offset, uint64_t length)
{
    return offset <= size && length <= size - offset;
}

/* Looks `name` up in the symbol table of section `sym` (its string table is sh_link). */
static bool search_table(const unsigned char *f, size_t size, const Elf64_Shdr *sh, size_t shnum, const Elf64_Shdr *sym,
                         const char *name, nth_elf_symbol *out)
{
    if (sym->sh_link >= shnum || sym->sh_entsize != sizeof(Elf64_Sym) || !in_file(size, sym->sh_offset, sym->sh_size))
        return false;
    Elf64_Shdr str_copy;
    memcpy(&str_copy, (const unsigned char *)sh + (size_t)sym->sh_link * sizeof str_copy, sizeof str_copy);
    const Elf64_Shdr *str = &str_copy;
    if (!in_file(size, str->sh_offset, str->sh_size)) return false;
    const char *strings = (const char *)f + str->sh_offset;
    size_t n = sym->sh_size / sizeof(Elf64_Sym), name_len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        Elf64_Sym s;
        memcpy(&s, f + sym->sh_offset + i * sizeof s, sizeof s);
        if (s.st_shndx == SHN_UNDEF || s.st_name >= str->sh_size || str->sh_size - s.st_name <= name_len) continue;
        if (memcmp(strings + s.st_name, name, name_len + 1) != 0) continue;
        out->value = s.st_value;
        out->size = s.st_size;
        return true;
    }
    return false;
}

static bool parse(const unsigned char *f, size_t size, const char *name, nth_elf_symbol *out)
{
    Elf64_Ehdr eh;
    if (size < sizeof eh) return false;
    memcpy(&eh, f, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || !in_file(size, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)) ||
        !in_file(size, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
        return false;
    out->relocatable = eh.e_type == ET_DYN;
    bool have_load = false;
    for (size_t i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, f + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD) continue;
        if (!have_load || (ph.p_vaddr & ~(uint64_t)4095) < out->first_vaddr) {
            out->first_vaddr = ph.p_vaddr & ~(uint64_t)4095;
            out->first_offset = ph.p_offset & ~(uint64_t)4095;
            have_load = true;
        }
    }
    if (!have_load) return false;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(const void *)(f + eh.e_shoff); /* read by memcpy only */
    Elf64_Shdr copy[1];
    static const uint32_t order[2] = {SHT_DYNSYM, SHT_SYMTAB};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < eh.e_shnum; i++) {
            memcpy(&copy[0], (const unsigned char *)sh + i * sizeof copy[0], sizeof copy[0]);
            if (copy[0].sh_type != order[pass]) continue;
            if (search_table(f, size, sh, eh.e_shnum, &copy[0], name, out)) {
                out->table = pass == 0 ? ".dynsym" : ".symtab";
                return true;
            }
        }
    return false;
}

bool nth_elf_find_symbol(const char *path, const char *name, nth_elf_symbol *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a core may name a FIFO: never wait on it */
    if (fd < 0) return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return false;
    }
    size_t size = (size_t)st.st_size;
    void *f = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED) return false;
    bool found = parse(f, size, name, out);
    munmap(f, size);
    return found;
}
