/*
 * options.c — the process-wide option defaults, and the parser that reads them once from the
 * NTHEAP_OPTIONS environment variable. The options themselves are the rows of options.def; the
 * setters and getters (nth_heap_set_option, nth_heap_get_option) and the exit-time validator
 * live in heap.c. This file only parses.
 *
 *   NTHEAP_OPTIONS="terminate_on_corruption=1,lfh=0,validate_at_exit=1"
 *
 * Values are unsigned numbers, decimal or 0x hex (no sign, no spaces, no more than 64 bits),
 * within the row's range (and page_heap=light, the same as page_heap=2). An unknown name, a
 * malformed or out-of-range value, or a pair without '=' gets one warning line on stderr and is
 * ignored; the other pairs still apply. The variable is ignored in set-user-ID programs
 * (secure_getenv).
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "heap/internal.h"
#include "heap/debug/tags.h"
#include "heap/debug/visibility.h"

nth_defaults nth_process_defaults = {
#define NTH_OPTION_ROW(name, id, type, default_value, ...) .name = (type)default_value,
#include "heap/options.def"
};

static pthread_once_t options_once = PTHREAD_ONCE_INIT;

/* The known names, comma separated, for the unknown-option warning. */
static const char known_names[] =
#define NTH_OPTION_ROW(name, ...) " " #name
#include "heap/options.def"
    ;

static bool in_range(unsigned long long value, unsigned long long min, unsigned long long max)
{
    return value >= min && value <= max;
}

/* The digit `c` stands for in `base` (10 or 16), or -1. */
static int digit_value(char c, int base)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads an unsigned decimal or 0x-hex number at `text` into *value and sets *end past it; false
 * when there is no digit or the number does not fit 64 bits. */
static bool parse_number(const char *text, unsigned long long *value, const char **end)
{
    int base = 10;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) base = 16, text += 2;
    unsigned long long v = 0;
    const char *p = text;
    for (int d; (d = digit_value(*p, base)) >= 0; p++) {
        if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base) return false;
        v = v * (unsigned)base + (unsigned)d;
    }
    *value = v;
    *end = p;
    return p != text;
}

/* Applies one "name=value" pair; `value` runs to the next ',' or the end. */
static void parse_option(const char *name, size_t name_len, const char *value)
{
    if (name_len == 4 && memcmp(name, "tags", 4) == 0 && strncmp(value, "module", 6) == 0 &&
        (value[6] == '\0' || value[6] == ','))
        value = "1"; /* tags=module: the one word an option takes */
    unsigned long long v = 0;
    const char *end = value;
    bool parsed = parse_number(value, &v, &end);
    /* The one named value: page_heap=light is page_heap=2 (gflags' light page heap). */
    if (name_len == 9 && memcmp(name, "page_heap", 9) == 0 && strncmp(value, "light", 5) == 0)
        v = 2, end = value + 5, parsed = true;
    bool well_formed = parsed && (*end == '\0' || *end == ',');
#define NTH_OPTION_ROW(option, id, type, default_value, min, max, ...)                                           \
    if (name_len == sizeof #option - 1 && memcmp(name, #option, name_len) == 0) {                                \
        if (!well_formed || !in_range(v, (unsigned long long)(min), (unsigned long long)(max)))                  \
            fprintf(stderr, "ntheap: NTHEAP_OPTIONS: %s: value must be a number from %llu to %llu; ignored\n", \
                    #option, (unsigned long long)(min), (unsigned long long)(max));                              \
        else                                                                                                     \
            nth_process_defaults.option = (type)v;                                                               \
        return;                                                                                                  \
    }
#include "heap/options.def"
    fprintf(stderr, "ntheap: NTHEAP_OPTIONS: unknown option \"%.*s\" ignored (known:%s)\n", (int)name_len, name,
            known_names);
}

static void load_once(void)
{
    const char *text = secure_getenv("NTHEAP_OPTIONS");
    while (text && *text) {
        const char *eq = strchr(text, '='), *comma = strchr(text, ',');
        size_t pair_len = comma ? (size_t)(comma - text) : strlen(text);
        if (!eq || (comma && comma < eq))
            fprintf(stderr, "ntheap: NTHEAP_OPTIONS: expected name=value, found \"%.*s\"; ignored\n", (int)pair_len,
                    text);
        else
            parse_option(text, (size_t)(eq - text), eq + 1);
        if (!comma) break;
        text = comma + 1;
    }
    nth_tags_options_changed();
    nth_vis_init();
}

void nth_options_load(void)
{
    pthread_once(&options_once, load_once);
}
