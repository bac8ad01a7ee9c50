/*
 * frames.c — names one return address of the target (frames.h): the symbolizer's answer for
 * address - 1, offsets taken from the address, "?" for what is unknown; and the call's source
 * position, asked of addr2line in a child process (never in the target).
 */
#include "frames.h"

#include <elf.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void frame_describe(nth_symbolizer *s, uintptr_t address, frame_text *out)
{
    nth_frame_name n;
    *out = (frame_text){address, "?", 0, "?", 0};
    if (!address || !nth_symbolize(s, address - 1, &n)) return;
    out->module = *n.module ? n.module : "?";
    out->module_offset = address - n.module_base;
    if (n.symbol && *n.symbol) {
        out->symbol = n.symbol;
        out->symbol_offset = address - n.symbol_address;
    }
}

/* The address addr2line wants for `address` in the file at `path` mapped from `base`: the
 * offset from the base for a shared object or PIE (their first segment is at address 0), the
 * address itself for a fixed-address executable. False when the file is not a readable ELF. */
static bool file_address(const char *path, uintptr_t base, uintptr_t address, uintptr_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    Elf64_Ehdr eh;
    bool ok = read(fd, &eh, sizeof eh) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0;
    close(fd);
    if (!ok) return false;
    *out = eh.e_type == ET_EXEC ? address : address - base;
    return true;
}

void frame_source(nth_symbolizer *s, uintptr_t address, char *out, size_t size)
{
    nth_frame_name n;
    uintptr_t at;
    *out = '\0';
    if (!address || size < 2 || !nth_symbolize(s, address - 1, &n) || !n.path || *n.path != '/' ||
        !file_address(n.path, n.module_base, address - 1, &at))
        return;
    char hex[32];
    snprintf(hex, sizeof hex, "0x%lx", (unsigned long)at);
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"addr2line", "-e", (char *)n.path, hex, NULL};
    pid_t pid;
    int spawned = posix_spawnp(&pid, "addr2line", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    char line[512];
    size_t got = 0;
    if (spawned == 0) {
        ssize_t r;
        while (got < sizeof line - 1 && (r = read(pipe_fds[0], line + got, sizeof line - 1 - got)) > 0) got += (size_t)r;
        waitpid(pid, NULL, 0);
    }
    close(pipe_fds[0]);
    line[got] = '\0';
    line[strcspn(line, " \n")] = '\0'; /* drops " (discriminator N)" */
    size_t length = strlen(line); /* "??:0", "file.c:?" and "file.c:0" say nothing */
    if (length < 3 || line[0] == '?' || strstr(line, ":?") || strcmp(line + length - 2, ":0") == 0) return;
    snprintf(out, size, "%s", line);
}
