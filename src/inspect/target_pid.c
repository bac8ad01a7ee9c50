/*
 * target_pid.c — a live process (and this process, read the same way): its mappings from
 * /proc/PID/maps, its memory through the page cache (process_vm_readv), its threads stopped
 * with ptrace while the target is open so that a walk sees one consistent state:
 *
 *   for every thread of /proc/PID/task (again until no new one appears):
 *       PTRACE_SEIZE, PTRACE_INTERRUPT, wait for the stop (bounded: 2 s)
 *       and its registers (PTRACE_GETREGSET): the stack pointer bounds the live stack
 *   close: PTRACE_DETACH each, which resumes it where it was (a blocked call restarts)
 *
 * When ptrace is refused the error says why (Yama's ptrace_scope, CAP_SYS_PTRACE, another
 * tracer); NTH_TARGET_NO_STOP skips the stop and reads a running process, whose torn state the
 * traversal reports as problems. Reading this process needs no permission and never stops it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inspect/target_internal.h"

static bool read_live(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    const nth_target *t = mem->context;
    return address != 0 && nth_cache_read(t->cache, address, buffer, length);
}

static bool load_maps(nth_target *t, char *error, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", t->pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        nth_target_error(error, size, "pid %d: cannot open %s: %s", t->pid, path, strerror(errno));
        return false;
    }
    char line[4352];
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        unsigned long start, end, offset;
        char perms[8] = "";
        int name_at = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &start, &end, perms, &offset, &name_at) < 4) continue;
        char *name = name_at ? line + name_at : (char *)"";
        name[strcspn(name, "\n")] = '\0';
        unsigned prot = (perms[0] == 'r' ? 4u : 0u) | (perms[1] == 'w' ? 2u : 0u) | (perms[2] == 'x' ? 1u : 0u);
        ok = nth_target_add_mapping(t, start, end, offset, prot, name);
    }
    fclose(f);
    if (!ok) nth_target_error(error, size, "pid %d: out of memory reading its mappings", t->pid);
    return ok;
}

/* Why ptrace was refused, as the user can act on it. */
static void explain_refusal(nth_target *t, int err, char *error, size_t size)
{
    int scope = -1;
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
    if (f) {
        if (fscanf(f, "%d", &scope) != 1) scope = -1;
        fclose(f);
    }
    char status[64], tracer[32] = "0";
    snprintf(status, sizeof status, "/proc/%d/status", t->pid);
    if ((f = fopen(status, "re"))) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "TracerPid: %31s", tracer) == 1) break;
        fclose(f);
    }
    const char *why = strcmp(tracer, "0") != 0 ? "it is already traced by another process (TracerPid above)"
                      : scope == 1 ? "Yama ptrace_scope is 1: only a parent may trace; run as root, give ntheap "
                                     "CAP_SYS_PTRACE, or let the target allow it (prctl PR_SET_PTRACER)"
                      : scope == 2 ? "Yama ptrace_scope is 2: only a process with CAP_SYS_PTRACE may trace"
                      : scope == 3 ? "Yama ptrace_scope is 3: ptrace is disabled on this system"
                                   : "the target belongs to another user, or ntheap lacks CAP_SYS_PTRACE";
    nth_target_error(error, size, "pid %d (TracerPid %s): ptrace refused (%s): %s; --no-stop reads without stopping it",
                     t->pid, tracer, strerror(err), why);
}

static bool stopped_already(const nth_target *t, int tid)
{
    for (size_t i = 0; i < t->n_stopped; i++)
        if (t->stopped[i] == tid) return true;
    return false;
}

static bool wait_stop(int tid)
{
    struct timespec pause = {0, 1000000};
    for (int tries = 0; tries < 2000; tries++) {
        int status;
        pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
        if (r == tid) return WIFSTOPPED(status);
        if (r < 0) return false;
        nanosleep(&pause, NULL);
    }
    return false;
}

/* The registers of a stopped thread (PTRACE_GETREGSET, NT_PRSTATUS); a thread whose registers
 * cannot be read is left out of the thread list (its stack is then scanned whole). */
static bool note_thread(nth_target *t, int tid)
{
    uint64_t regs[64];
    struct iovec iov = {regs, sizeof regs};
    nth_target_thread thread;
    if (ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)NT_PRSTATUS, &iov) != 0 ||
        !nth_thread_from_regs(&thread, tid, nth_host_machine(), regs, iov.iov_len / sizeof regs[0]))
        return true;
    return nth_target_add_thread(t, &thread);
}

static bool stop_threads(nth_target *t, char *error, size_t size)
{
    char dir_path[64];
    snprintf(dir_path, sizeof dir_path, "/proc/%d/task", t->pid);
    for (int round = 0; round < 16; round++) {
        DIR *dir = opendir(dir_path);
        if (!dir) {
            nth_target_error(error, size, "pid %d: no such process (%s)", t->pid, strerror(errno));
            return false;
        }
        bool new_thread = false;
        struct dirent *d;
        while ((d = readdir(dir))) {
            int tid = atoi(d->d_name);
            if (tid <= 0 || stopped_already(t, tid)) continue;
            if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
                if (errno == ESRCH) continue; /* exited meanwhile */
                int err = errno;
                closedir(dir);
                explain_refusal(t, err, error, size);
                return false;
            }
            int *grown = realloc(t->stopped, (t->n_stopped + 1) * sizeof *grown);
            if (!grown) {
                ptrace(PTRACE_DETACH, tid, 0, 0);
                closedir(dir);
                nth_target_error(error, size, "out of memory");
                return false;
            }
            t->stopped = grown;
            t->stopped[t->n_stopped++] = tid;
            new_thread = true;
            if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0 || !wait_stop(tid)) {
                if (errno == ESRCH) continue;
                closedir(dir);
                nth_target_error(error, size, "pid %d: thread %d did not stop within 2 s", t->pid, tid);
                return false;
            }
            if (!note_thread(t, tid)) {
                closedir(dir);
                nth_target_error(error, size, "out of memory");
                return false;
            }
        }
        closedir(dir);
        if (!new_thread) return true;
    }
    return true;
}

static void resume_threads(nth_target *t)
{
    for (size_t i = 0; i < t->n_stopped; i++) ptrace(PTRACE_DETACH, t->stopped[i], 0, 0);
    free(t->stopped);
    t->stopped = NULL;
    t->n_stopped = 0;
}

static nth_target *open_live(int pid, bool self, unsigned flags, char *error, size_t size)
{
    nth_target *t = nth_target_new(self ? NTH_TARGET_SELF : NTH_TARGET_PID);
    if (!t || !(t->cache = calloc(1, sizeof *t->cache))) {
        if (t) nth_target_free(t);
        nth_target_error(error, size, "out of memory");
        return NULL;
    }
    t->pid = pid;
    t->cache->pid = pid;
    t->cache->target = t;
    t->mem = (nth_mem){read_live, nth_target_owner_of, t};
    char comm[64] = "?", path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    if (self) snprintf(t->describe, sizeof t->describe, "this process (pid %d, %s)", pid, comm);
    else snprintf(t->describe, sizeof t->describe, "pid %d (%s)", pid, comm);
    char root[64] = "";
    if (!self) snprintf(root, sizeof root, "/proc/%d/root", pid);
    bool ok = (self || (flags & NTH_TARGET_NO_STOP) || stop_threads(t, error, size)) && load_maps(t, error, size);
    if (ok) {
        nth_target_sort_mappings(t);
        ok = nth_registry_load(t, root, error, size);
    }
    if (!ok) {
        nth_target_close(t);
        return NULL;
    }
    return t;
}

nth_target *nth_target_open_pid(int pid, unsigned flags, char *error, size_t size)
{
    if (pid <= 0) {
        nth_target_error(error, size, "pid %d: not a process id", pid);
        return NULL;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", pid);
    if (access(path, F_OK) != 0) {
        nth_target_error(error, size, "pid %d: no such process", pid);
        return NULL;
    }
    return open_live(pid, pid == getpid(), flags, error, size);
}

/* This process: its threads run on, so only the caller's stack pointer is known, taken here
 * (the caller's frames lie above it; nothing below it is the caller's). */
nth_target *nth_target_open_self(char *error, size_t size)
{
    nth_target *t = open_live(getpid(), true, 0, error, size);
    volatile char here = 0;
    nth_target_thread me = {.tid = gettid(), .sp = (uintptr_t)&here, .live_low = (uintptr_t)&here};
    if (t && !nth_target_add_thread(t, &me)) {
        nth_target_close(t);
        nth_target_error(error, size, "out of memory");
        return NULL;
    }
    return t;
}

void nth_target_release_live(nth_target *t)
{
    resume_threads(t);
    if (t->cache) nth_cache_release(t->cache);
    t->cache = NULL;
}
