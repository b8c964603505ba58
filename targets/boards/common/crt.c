/*
 * edgeprune bare-metal C runtime start (shared by all Cortex-M boards).
 *
 * The board's Reset_Handler enables the FPU (and MVE) and then jumps here
 * with SP at the top of the stack. We copy .data from its load address,
 * zero .bss, paint the unused stack for high-water measurement, run static
 * constructors, call main() and hand its return value to ep_exit().
 */
#include "board.h"

#include <stdint.h>

#define EP_STACK_PAINT 0xC5AC5AC5u

extern uint32_t __ep_data_load[];
extern uint32_t __ep_data_start[];
extern uint32_t __ep_data_end[];
extern uint32_t __ep_bss_start[];
extern uint32_t __ep_bss_end[];
extern uint32_t __ep_stack_bottom[];
extern void (*__ep_init_array_start[])(void);
extern void (*__ep_init_array_end[])(void);

int main(void);
void ep_crt_start(void) __attribute__((noreturn, used));

void ep_crt_start(void)
{
    volatile uint32_t *dst;
    const volatile uint32_t *src;
    uintptr_t sp;
    void (**ctor)(void);

    /* volatile pointers: keep these loops plain word loops (no library
     * calls, no vectorisation) so nothing runs before memory is set up. */
    src = __ep_data_load;
    for (dst = __ep_data_start; dst < __ep_data_end; dst++, src++) {
        *dst = *src;
    }
    for (dst = __ep_bss_start; dst < __ep_bss_end; dst++) {
        *dst = 0u;
    }

    /* Paint from the stack bottom to just below the live frame. */
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    sp -= 64u;
    for (dst = __ep_stack_bottom; (uintptr_t)dst < sp; dst++) {
        *dst = EP_STACK_PAINT;
    }

    for (ctor = __ep_init_array_start; ctor < __ep_init_array_end; ctor++) {
        (*ctor)();
    }

    ep_exit(main());
}

/* Default handler for every exception: report and stop with status 128+n. */
void ep_default_handler(void) __attribute__((used));
void ep_default_handler(void)
{
    uint32_t ipsr;
    static const char hex[] = "0123456789abcdef";
    char msg[] = "\nEP FAULT: exception 0x00\n";
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    msg[23] = hex[(ipsr >> 4) & 0xFu];
    msg[24] = hex[ipsr & 0xFu];
    ep_write(msg, (unsigned)(sizeof(msg) - 1u));
    ep_exit(128 + (int)(ipsr & 0x1FFu));
}
