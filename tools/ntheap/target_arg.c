/*
 * target_arg.c — parsing and opening of the target options (see target_arg.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "target_arg.h"

int target_arg_take(target_arg *t, int argc, char **argv, int *i, const char *command)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--self") == 0) {
        t->self = true;
        return 1;
    }
    if (strcmp(arg, "--no-stop") == 0) {
        t->no_stop = true;
        return 1;
    }
    if (strcmp(arg, "-p") != 0 && strcmp(arg, "-c") != 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "ntheap %s: %s needs a value\n", command, arg);
        return -1;
    }
    const char *value = argv[++*i];
    if (arg[1] == 'c') {
        t->core = value;
        return 1;
    }
    char *end;
    errno = 0;
    long pid = strtol(value, &end, 10);
    if (errno || end == value || *end || pid <= 0 || pid > 0x3FFFFFFF) {
        fprintf(stderr, "ntheap %s: -p wants a process id, not \"%s\"\n", command, value);
        return -1;
    }
    t->pid = (int)pid;
    return 1;
}

bool target_arg_complete(const target_arg *t, const char *command)
{
    int n = (t->pid != 0) + (t->core != NULL) + t->self;
    if (n == 1 && (!t->no_stop || t->pid)) return true;
    if (n == 0) fprintf(stderr, "ntheap %s: no target: give -p PID, -c CORE or --self\n", command);
    else if (n > 1) fprintf(stderr, "ntheap %s: give one target only (-p PID, -c CORE or --self)\n", command);
    else fprintf(stderr, "ntheap %s: --no-stop applies to -p PID only\n", command);
    return false;
}

nth_target *target_arg_open(const target_arg *t, const char *command)
{
    char error[256] = "";
    nth_target *target = t->self  ? nth_target_open_self(error, sizeof error)
                         : t->core ? nth_target_open_core(t->core, error, sizeof error)
                                   : nth_target_open_pid(t->pid, t->no_stop ? NTH_TARGET_NO_STOP : 0, error,
                                                         sizeof error);
    if (!target) fprintf(stderr, "ntheap %s: %s\n", command, error[0] ? error : "cannot open the target");
    return target;
}

bool target_arg_output_ok(const target_arg *t, const char *path, const char *command)
{
    struct stat out, core;
    if (!t->core || !path || strcmp(path, "-") == 0 || stat(path, &out) != 0 || stat(t->core, &core) != 0 ||
        out.st_dev != core.st_dev || out.st_ino != core.st_ino)
        return true;
    fprintf(stderr, "ntheap %s: %s is the core file being read; write the output elsewhere\n", command, path);
    return false;
}

bool target_arg_address(const char *text, uintptr_t *address)
{
    const char *digits = strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0 ? text + 2 : text;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(digits, &end, 16);
    if (errno || end == digits || *end || digits[0] == '-' || digits[0] == '+' || value > UINTPTR_MAX) return false;
    *address = (uintptr_t)value;
    return true;
}

uintptr_t target_arg_heap(const nth_target *target, const char *text, const char *command)
{
    size_t count = nth_target_heap_count(target);
    if (!text) {
        uintptr_t heap = nth_target_process_heap(target);
        if (heap) return heap;
        if (count) return nth_target_heap_address(target, 0);
        fprintf(stderr, "ntheap %s: %s has no ntheap heap\n", command, nth_target_describe(target));
        return 0;
    }
    char *end;
    unsigned long index = strtoul(text, &end, 10);
    if (*end == '\0' && end != text && index >= 1 && index <= count) return nth_target_heap_address(target, index - 1);
    uintptr_t address;
    if (target_arg_address(text, &address)) {
        for (size_t k = 0; k < count; k++)
            if (nth_target_heap_address(target, k) == address) return address;
    }
    fprintf(stderr, "ntheap %s: %s has no heap \"%s\" (give an index from 1 to %zu, or a heap address)\n", command,
            nth_target_describe(target), text, count);
    return 0;
}
