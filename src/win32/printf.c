/*
 * printf.c — printf as the Microsoft C runtime formats it, for ported code (_tprintf).
 *
 * The format is walked one conversion at a time; each conversion is re-issued to the C
 * library's fprintf with its argument fetched at the type Windows would pass, except:
 *
 *   %p      2 * sizeof(void *) upper-case hex digits, zero padded: 00000000005307D8
 *   %#p     the same with a "0X" prefix:                          0X00000000005307D8
 *   l       32 bits, as Windows' long is (DWORD, LONG, ULONG are 32-bit here too)
 *   I64     64 bits (ll);  I32: 32 bits;  I: pointer-sized (size_t, ptrdiff_t)
 *
 * Width and precision (also '*') apply as usual; %p honours width and the '-' flag. %n stores
 * the count written so far. An unknown conversion is printed as written.
 */
#include "win32/win32_internal.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <wchar.h>

typedef enum arg_size {
    SIZE_INT,       /* none, l (Windows' long), I32 */
    SIZE_CHAR,      /* hh */
    SIZE_SHORT,     /* h */
    SIZE_LONG_LONG, /* ll, I64 */
    SIZE_POINTER,   /* I, z, t */
    SIZE_INTMAX,    /* j */
    SIZE_LONG_DOUBLE,
    SIZE_WIDE,      /* l with c or s */
} arg_size;

typedef struct spec {
    char text[64]; /* the conversion as handed to fprintf */
    size_t length;
    bool alternate; /* '#' */
    bool left;      /* '-' */
    int width;      /* -1: none */
} spec;

static void spec_add(spec *s, const char *text, size_t n)
{
    if (s->length + n >= sizeof s->text) n = sizeof s->text - 1 - s->length;
    memcpy(s->text + s->length, text, n);
    s->length += n;
    s->text[s->length] = '\0';
}

static void spec_add_number(spec *s, int value)
{
    char digits[16];
    int n = snprintf(digits, sizeof digits, "%d", value);
    spec_add(s, digits, (size_t)n);
}

static int emit_pointer(FILE *out, const spec *s, const void *pointer)
{
    char text[2 + 2 * sizeof(void *) + 1];
    int n = snprintf(text, sizeof text, "%s%0*jX", s->alternate ? "0X" : "", (int)(2 * sizeof(void *)),
                     (uintmax_t)(uintptr_t)pointer);
    int width = s->width > n ? s->width : n;
    return fprintf(out, s->left ? "%-*s" : "%*s", width, text);
}

int nth_win32_vfprintf(FILE *out, const char *format, va_list args)
{
    int total = 0;
    const char *p = format;
    while (*p) {
        if (*p != '%') {
            const char *run = p;
            while (*p && *p != '%') p++;
            total += (int)fwrite(run, 1, (size_t)(p - run), out);
            continue;
        }
        const char *start = p++;
        if (*p == '%') {
            fputc('%', out);
            total++;
            p++;
            continue;
        }
        spec s = { .length = 0, .width = -1 };
        spec_add(&s, "%", 1);
        while (*p && strchr("-+ #0", *p)) {
            if (*p == '#') s.alternate = true;
            if (*p == '-') s.left = true;
            spec_add(&s, p, 1);
            p++;
        }
        if (*p == '*') {
            s.width = va_arg(args, int);
            if (s.width < 0) {
                s.left = true;
                s.width = -s.width;
                spec_add(&s, "-", 1);
            }
            spec_add_number(&s, s.width);
            p++;
        } else if (*p >= '0' && *p <= '9') {
            s.width = 0;
            while (*p >= '0' && *p <= '9') {
                s.width = s.width * 10 + (*p - '0');
                spec_add(&s, p, 1);
                p++;
            }
        }
        if (*p == '.') {
            spec_add(&s, ".", 1);
            p++;
            if (*p == '*') {
                spec_add_number(&s, va_arg(args, int));
                p++;
            } else {
                while (*p >= '0' && *p <= '9') spec_add(&s, p++, 1);
            }
        }
        arg_size size = SIZE_INT;
        bool long_flag = false;
        if (p[0] == 'h' && p[1] == 'h') size = SIZE_CHAR, p += 2;
        else if (p[0] == 'h') size = SIZE_SHORT, p += 1;
        else if (p[0] == 'l' && p[1] == 'l') size = SIZE_LONG_LONG, p += 2;
        else if (p[0] == 'l') long_flag = true, p += 1;
        else if (p[0] == 'I' && p[1] == '6' && p[2] == '4') size = SIZE_LONG_LONG, p += 3;
        else if (p[0] == 'I' && p[1] == '3' && p[2] == '2') p += 3;
        else if (p[0] == 'I' || p[0] == 'z' || p[0] == 't') size = SIZE_POINTER, p += 1;
        else if (p[0] == 'j') size = SIZE_INTMAX, p += 1;
        else if (p[0] == 'L') size = SIZE_LONG_DOUBLE, p += 1;
        char conversion = *p;
        if (conversion == '\0') {
            total += (int)fwrite(start, 1, (size_t)(p - start), out);
            break;
        }
        p++;
        if (long_flag && (conversion == 'c' || conversion == 's')) size = SIZE_WIDE;

        static const char *const modifier[] = {
            [SIZE_INT] = "", [SIZE_CHAR] = "hh", [SIZE_SHORT] = "h", [SIZE_LONG_LONG] = "ll",
            [SIZE_POINTER] = "z", [SIZE_INTMAX] = "j", [SIZE_LONG_DOUBLE] = "L", [SIZE_WIDE] = "l",
        };
        char tail[2] = { conversion, '\0' };
        int n = 0;
        switch (conversion) {
        case 'd':
        case 'i':
        case 'o':
        case 'u':
        case 'x':
        case 'X': {
            bool is_signed = conversion == 'd' || conversion == 'i';
            /* Re-issued with an explicit modifier so that the value is read at its real size. */
            if (size == SIZE_LONG_LONG) {
                spec_add(&s, "ll", 2), spec_add(&s, tail, 1);
                n = is_signed ? fprintf(out, s.text, va_arg(args, long long))
                              : fprintf(out, s.text, va_arg(args, unsigned long long));
            } else if (size == SIZE_POINTER) {
                spec_add(&s, is_signed ? "t" : "z", 1), spec_add(&s, tail, 1);
                n = is_signed ? fprintf(out, s.text, va_arg(args, ptrdiff_t)) : fprintf(out, s.text, va_arg(args, size_t));
            } else if (size == SIZE_INTMAX) {
                spec_add(&s, "j", 1), spec_add(&s, tail, 1);
                n = is_signed ? fprintf(out, s.text, va_arg(args, intmax_t)) : fprintf(out, s.text, va_arg(args, uintmax_t));
            } else {
                spec_add(&s, modifier[size], strlen(modifier[size])), spec_add(&s, tail, 1);
                n = is_signed ? fprintf(out, s.text, va_arg(args, int)) : fprintf(out, s.text, va_arg(args, unsigned int));
            }
            break;
        }
        case 'c':
            spec_add(&s, modifier[size == SIZE_WIDE ? SIZE_WIDE : SIZE_INT], size == SIZE_WIDE ? 1 : 0);
            spec_add(&s, tail, 1);
            n = size == SIZE_WIDE ? fprintf(out, s.text, va_arg(args, wint_t)) : fprintf(out, s.text, va_arg(args, int));
            break;
        case 's':
            spec_add(&s, modifier[size == SIZE_WIDE ? SIZE_WIDE : SIZE_INT], size == SIZE_WIDE ? 1 : 0);
            spec_add(&s, tail, 1);
            n = size == SIZE_WIDE ? fprintf(out, s.text, va_arg(args, const wchar_t *))
                                  : fprintf(out, s.text, va_arg(args, const char *));
            break;
        case 'p':
            n = emit_pointer(out, &s, va_arg(args, const void *));
            break;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            if (size == SIZE_LONG_DOUBLE) {
                spec_add(&s, "L", 1), spec_add(&s, tail, 1);
                n = fprintf(out, s.text, va_arg(args, long double));
            } else {
                spec_add(&s, tail, 1);
                n = fprintf(out, s.text, va_arg(args, double));
            }
            break;
        case 'n':
            *va_arg(args, int *) = total;
            break;
        default:
            n = (int)fwrite(start, 1, (size_t)(p - start), out);
            break;
        }
        if (n > 0) total += n;
    }
    return total;
}

int nth_win32_printf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = nth_win32_vfprintf(stdout, format, args);
    va_end(args);
    return n;
}

int nth_win32_fprintf(FILE *stream, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = nth_win32_vfprintf(stream, format, args);
    va_end(args);
    return n;
}
