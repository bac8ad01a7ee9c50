/*
 * cmd_run.c — `ntheap run [--options OPTS] -- PROGRAM ARGS...`: runs a program with the malloc
 * replacement preloaded, so that its heaps can be looked at from outside (`ntheap heap -p PID`).
 *
 * The library is looked for, in this order:
 *   1. next to the ntheap binary (a build directory: build/ntheap beside build/libntheap-malloc.so)
 *   2. the directory it was installed to (PRELOADDIR, compiled in by the Makefile)
 * The first file found is put in front of LD_PRELOAD (a value already there is kept after it);
 * --options sets NTHEAP_OPTIONS. Then ntheap replaces itself with PROGRAM (execvp), so the
 * program's pid, exit status and signals are those of the command the user started.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_run.h"

#ifndef NTH_PRELOADDIR
#define NTH_PRELOADDIR "/usr/local/lib"
#endif

#define MALLOC_LIBRARY "libntheap-malloc.so"

static void usage(FILE *out)
{
    fputs("usage: ntheap run [--options OPTS] -- PROGRAM [ARGS...]\n"
          "\n"
          "Runs PROGRAM with the ntheap malloc replacement (" MALLOC_LIBRARY ") in\n"
          "LD_PRELOAD, so every malloc, free and new of a dynamically linked program is\n"
          "served by an ntheap heap that `ntheap heap -p PID` can inspect.\n"
          "\n"
          "  --options OPTS  sets NTHEAP_OPTIONS=OPTS for the program (see ntheap-options(7))\n"
          "\n"
          "The library is taken from the directory of the ntheap binary, else from\n"
          NTH_PRELOADDIR ".\n"
          "\n"
          "Exit status: the program's own; 2 bad usage or no library found; 126 the program\n"
          "could not be executed; 127 it was not found.\n",
          out);
}

/* Writes `dir`/MALLOC_LIBRARY into `path`; true when that file exists and is readable. */
static bool library_in(const char *dir, char *path, size_t size)
{
    int n = snprintf(path, size, "%s/%s", dir, MALLOC_LIBRARY);
    return n > 0 && (size_t)n < size && access(path, R_OK) == 0;
}

/* The malloc replacement's path: beside this binary, else where it was installed. */
static bool find_library(char *path, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            if (library_in(self[0] ? self : "/", path, size)) return true;
        }
    }
    return library_in(NTH_PRELOADDIR, path, size);
}

int nth_cli_run(int argc, char **argv)
{
    const char *options = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--options") == 0 && i + 1 < argc) {
            options = argv[++i];
        } else if (strncmp(arg, "--options=", 10) == 0) {
            options = arg + 10;
        } else if (arg[0] == '-') {
            fprintf(stderr, "ntheap run: unknown option \"%s\"%s\n", arg,
                    strcmp(arg, "--options") == 0 ? " (it needs a value)" : "");
            usage(stderr);
            return 2;
        } else {
            break; /* PROGRAM without "--" */
        }
    }
    if (i >= argc) {
        fputs("ntheap run: no program given\n", stderr);
        usage(stderr);
        return 2;
    }
    char library[PATH_MAX];
    if (!find_library(library, sizeof library)) {
        fprintf(stderr,
                "ntheap run: cannot find %s beside the ntheap binary nor in %s "
                "(build it with `make`, or install the package that holds it)\n",
                MALLOC_LIBRARY, NTH_PRELOADDIR);
        return 2;
    }
    const char *previous = getenv("LD_PRELOAD");
    size_t length = strlen(library) + (previous ? strlen(previous) + 1 : 0) + 1;
    char *preload = malloc(length);
    if (!preload) {
        fputs("ntheap run: out of memory\n", stderr);
        return 2;
    }
    if (previous && previous[0])
        snprintf(preload, length, "%s:%s", library, previous);
    else
        snprintf(preload, length, "%s", library);
    if (setenv("LD_PRELOAD", preload, 1) != 0 || (options && setenv("NTHEAP_OPTIONS", options, 1) != 0)) {
        fprintf(stderr, "ntheap run: cannot set the environment: %s\n", strerror(errno));
        free(preload);
        return 2;
    }
    free(preload);
    fflush(stdout);
    execvp(argv[i], argv + i);
    int error = errno;
    fprintf(stderr, "ntheap run: cannot execute \"%s\": %s\n", argv[i], strerror(error));
    return error == ENOENT ? 127 : 126;
}
