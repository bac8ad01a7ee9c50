/*
 * report.c — the one reporter. Every misuse and corruption the engine detects comes here as
 * (heap, error, address, expected, found); it formats one line naming the call in progress,
 * hands it to the user's handler (default: stderr), sets the thread's last error, and applies
 * the heap's termination-on-corruption policy. The GENERATE_EXCEPTIONS mapping lives here too.
 *
 *   ntheap: nth_heap_free(heap 0x7f..0000, 0x7f..1230): NTH_ERR_DOUBLE_FREE:
 *           expected a busy block, found a free block (already freed)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "heap/internal.h"

static nth_report_handler report_handler;
static void *report_context;
static nth_exception_handler exception_handler;
static void *exception_context;
NTH_TLS const char *nth_call_in_progress;

void nth_set_report_handler(nth_report_handler handler, void *context)
{
    report_context = context;
    report_handler = handler;
}

void nth_set_exception_handler(nth_exception_handler handler, void *context)
{
    exception_context = context;
    exception_handler = handler;
}

/* The outer layers' hook: their name stays until they clear it, and every NTH_ENTER inside
 * keeps it (internal.h). */
void nth_set_call_name(const char *call)
{
    nth_call_in_progress = call;
}

const char *nth_current_call(void)
{
    return nth_call_in_progress ? nth_call_in_progress : "ntheap";
}

bool nth_report_goes_to_stderr(void)
{
    return report_handler == NULL;
}

static void deliver(const nth_report *report)
{
    if (report_handler)
        report_handler(report, report_context);
    else
        fprintf(stderr, "%s\n", report->message);
}

static bool is_corruption(nth_error error)
{
    return error == NTH_ERR_CORRUPT || error == NTH_ERR_DOUBLE_FREE || error == NTH_ERR_INVALID_POINTER ||
           error == NTH_ERR_WRONG_HEAP;
}

void nth_report_problem(nth_heap *heap, nth_error error, const void *address, const char *expected,
                        const char *found)
{
    char message[512];
    nth_report report = {
        .call = nth_current_call(),
        .heap = heap,
        .address = address,
        .error = error,
        .expected = expected,
        .found = found,
        .message = message,
    };
    snprintf(message, sizeof message, "ntheap: %s(heap %p, %p): %s: expected %s, found %s", report.call,
             (void *)heap, address, nth_error_name(error), expected, found);
    nth_set_last_error(error);
    deliver(&report);
    if (heap && is_corruption(error) && nth_heap_handle_ok(heap) && heap->terminate_on_corruption) {
        fprintf(stderr, "ntheap: terminating on heap corruption (0x%08X)\n", NTH_STATUS_HEAP_CORRUPTION);
        abort();
    }
}

void nth_report_layer_damage(nth_heap *heap, const void *address, const char *expected, const char *found)
{
    nth_report_problem(heap, NTH_ERR_CORRUPT, address, expected ? expected : "?", found ? found : "?");
}

void nth_raise_if_asked(nth_heap *heap, uint32_t flags, nth_error error)
{
    if (heap && nth_heap_handle_ok(heap)) flags |= heap->force_flags;
    if (!(flags & NTH_GENERATE_EXCEPTIONS)) return;
    uint32_t status = (error == NTH_ERR_NO_MEMORY || error == NTH_ERR_CANNOT_MOVE) ? NTH_STATUS_NO_MEMORY
                      : error == NTH_ERR_CORRUPT ? NTH_STATUS_HEAP_CORRUPTION
                                                 : NTH_STATUS_ACCESS_VIOLATION;
    char message[160];
    snprintf(message, sizeof message, "ntheap: %s(heap %p): exception 0x%08X (%s)", nth_current_call(),
             (void *)heap, status, nth_error_name(error));
    nth_report report = {.call = nth_current_call(), .heap = heap, .error = error,
                         .expected = "success", .found = nth_error_name(error), .message = message};
    if (exception_handler) {
        exception_handler(status, &report, exception_context);
        return;
    }
    fprintf(stderr, "%s\n", message);
    raise(status == NTH_STATUS_ACCESS_VIOLATION ? SIGSEGV : SIGABRT);
}
