/*
 * test_printf.c — _tprintf formats as the Microsoft C runtime: "%#p" is "0X" and zero-padded
 * upper-case hex (the seed's "Walking heap 0X00530000..."), "l" is 32 bits, "I64"/"I" sizes.
 */
#include "win32_test.h"

#include <tchar.h>

static char text[512];

static const char *format(const char *fmt, ...)
{
    char *buffer = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&buffer, &length);
    va_list args;
    va_start(args, fmt);
    int n = nth_win32_vfprintf(stream, fmt, args);
    va_end(args);
    fclose(stream);
    snprintf(text, sizeof text, "%s", buffer ? buffer : "");
    CHECK_EQ((size_t)n, length);
    free(buffer);
    return text;
}

TEST(pointers_print_as_msvcrt_does)
{
    void *p = (void *)(uintptr_t)0x530000;
    if (sizeof(void *) == 8) {
        CHECK_STR(format("%#p", p), "0X0000000000530000");
        CHECK_STR(format("%p", p), "0000000000530000");
        CHECK_STR(format("[%20p]", (void *)(uintptr_t)0xABCDEF), "[    0000000000ABCDEF]");
        CHECK_STR(format("[%-20p]", (void *)(uintptr_t)0xABCDEF), "[0000000000ABCDEF    ]");
        CHECK_STR(format("%#p", (void *)NULL), "0X0000000000000000");
    }
}

TEST(integers_use_windows_sizes)
{
    DWORD dw = 4096;
    CHECK_STR(format("%d bytes committed", dw), "4096 bytes committed");
    CHECK_STR(format("%lu|%ld", (DWORD)4000000000u, (LONG)-5), "4000000000|-5");
    CHECK_STR(format("%I64d|%I64x", (long long)-1234567890123, 0x123456789abcull), "-1234567890123|123456789abc");
    CHECK_STR(format("%Iu|%Ix", (SIZE_T)1 << 40, (SIZE_T)255), "1099511627776|ff");
    CHECK_STR(format("%zu|%hhu|%hd", (size_t)7, 300, 70000), "7|44|4464");
    CHECK_STR(format("%5d|%-5d|%05d|%+d|%*d|%.*d", 42, 42, 42, 42, 4, 7, 3, 7), "   42|42   |00042|+42|   7|007");
    CHECK_STR(format("%#x|%o|%X", 255u, 8u, 0xBEEFu), "0xff|10|BEEF");
}

TEST(strings_characters_floats_and_percent)
{
    CHECK_STR(format("%s|%5s|%-5s|%.2s|%c|%%", "abc", "ab", "ab", "abc", 'z'), "abc|   ab|ab   |ab|z|%");
    CHECK_STR(format("%.3f|%e|%g", 3.14159, 1.5, 0.25), "3.142|1.500000e+00|0.25");
    CHECK_STR(format("%Lf", (long double)1.5), "1.500000");
    int count = 0;
    CHECK_STR(format("abc%n|", &count), "abc|");
    CHECK_EQ(count, 3);
    CHECK_STR(format("plain text"), "plain text");
    CHECK_STR(format("%q unknown"), "%q unknown");
}

TEST(tprintf_is_the_msvcrt_printf)
{
    /* _tprintf/_ftprintf from the tchar shim are the same formatter. */
    char *buffer = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&buffer, &length);
    _ftprintf(stream, TEXT("Walking heap %#p...\n"), (HANDLE)(uintptr_t)0x10a0000);
    fclose(stream);
    if (sizeof(void *) == 8) CHECK_STR(buffer, "Walking heap 0X00000000010A0000...\n");
    free(buffer);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(pointers_print_as_msvcrt_does);
    RUN(integers_use_windows_sizes);
    RUN(strings_characters_floats_and_percent);
    RUN(tprintf_is_the_msvcrt_printf);
    return harness_finish(argv[0]);
}
