/*
 * fault.c — turns a fault in a page-heap guard page or freed block into an ntheap report, then
 * lets the process die as the fault would have killed it (core dump included).
 *
 *   SIGSEGV / SIGBUS (SA_SIGINFO, on an alternate stack)
 *     si_addr in a live page-heap mapping, past the data    ──► "overrun"
 *                                          before the data  ──► "underrun"
 *     si_addr in a delayed-free mapping                     ──► "use after free"
 *     otherwise ──► the previous handler (SA_SIGINFO or plain), or the default action
 *   report: block address, size, kind, faulting address, allocation (and free) stacks
 *   then: SIG_DFL restored and the handler returns; the faulting instruction runs again and
 *         the kernel ends the process with the same signal (a core, si_addr intact)
 *
 * Installed once, when the first full page heap is created. The alternate stack (64 KiB,
 * engine metadata) is set for the installing thread when it has none; other threads take the
 * fault on their own stack. The handler reads records and the delay queue without locks: the
 * process is going down and a torn read only makes the report vaguer.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "heap/debug/debug.h"
#include "heap/vm.h"

#define ALT_STACK_BYTES (64u * 1024u)

static struct sigaction previous[2]; /* SIGSEGV, SIGBUS */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static struct sigaction *previous_for(int sig)
{
    return &previous[sig == SIGBUS];
}

static void pass_on(int sig, siginfo_t *info, void *context)
{
    struct sigaction *old = previous_for(sig);
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, info, context);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL); /* returning re-runs the instruction: the default action follows */
}

static void report(const char *kind, const void *addr, const char *data, size_t size, uint32_t alloc_stack,
                   uint32_t free_stack, bool freed)
{
    int fd = STDERR_FILENO;
    nth_debug_write(fd,
                    "ntheap: page heap: %s of block %p (%zu bytes) at address %p (%s%td bytes from its %s)\n",
                    kind, (const void *)data, size, addr, (const char *)addr >= data ? "+" : "",
                    (const char *)addr >= data + size && !freed ? (const char *)addr - (data + size)
                                                                : (const char *)addr - data,
                    (const char *)addr >= data + size && !freed ? "end" : "start");
    nth_debug_write(fd, "ntheap: block %p was allocated at:\n", (const void *)data);
    nth_trace_print(fd, alloc_stack);
    if (freed) {
        nth_debug_write(fd, "ntheap: and freed at:\n");
        nth_trace_print(fd, free_stack);
    }
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    const char *addr = info->si_addr;
    const nth_big *big;
    nth_delayed d;
    if (nth_page_block_at(addr, &big)) {
        bool under = addr < big->data;
        report(under ? "buffer underrun" : "buffer overrun", addr, big->data, big->size,
               nth_trace_alloc_stack_of(big->data), 0, false);
    } else if (nth_delay_find(addr, true, false, &d) && d.base) {
        report("use after free", addr, d.data, d.size, d.alloc_stack, d.free_stack, true);
    } else {
        pass_on(sig, info, context);
        return;
    }
    signal(sig, SIG_DFL);
}

static void install(void)
{
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && (current.ss_flags & SS_DISABLE)) {
        void *alt = nth_vm_map_private(ALT_STACK_BYTES);
        if (alt) {
            stack_t ss = {.ss_sp = alt, .ss_size = ALT_STACK_BYTES, .ss_flags = 0};
            sigaltstack(&ss, NULL);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous[0]);
    sigaction(SIGBUS, &sa, &previous[1]);
}

void nth_fault_install(void)
{
    pthread_once(&install_once, install);
}
