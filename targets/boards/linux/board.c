/*
 * edgeprune board support for Linux targets (rpi4/rpi5 under qemu-aarch64,
 * host). Same API as the bare-metal boards, implemented over write(2) and
 * _exit(2). Stack high-water: ep_board_init() paints EP_LINUX_STACK_PAINT
 * bytes below its caller's stack pointer (minus a 512-byte unpainted margin
 * that always counts as used); usage is measured from that point, so it
 * covers everything main() calls after ep_board_init().
 */
#define _DEFAULT_SOURCE
#include "board.h"

#include <stdint.h>
#include <unistd.h>

#ifndef EP_LINUX_STACK_PAINT
#define EP_LINUX_STACK_PAINT (256u * 1024u)
#endif
#define EP_STACK_PAINT 0xC5AC5AC5u

static uintptr_t ep_stack_top;    /* caller's SP when ep_board_init() ran */
static uintptr_t ep_stack_bottom; /* lowest painted address */

/* Paints [bottom, top) below the live frame. Not inlined so that its own
 * frame sits below the caller's and is excluded by the 512-byte margin. */
__attribute__((noinline)) static void ep_paint_stack(uintptr_t top)
{
    volatile uint32_t *p;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    ep_stack_top = top;
    ep_stack_bottom = (top - EP_LINUX_STACK_PAINT) & ~(uintptr_t)15u;
    for (p = (volatile uint32_t *)ep_stack_bottom; (uintptr_t)p < here - 512u; p++) {
        *p = EP_STACK_PAINT;
    }
}

void ep_board_init(void)
{
    if (ep_stack_top == 0u) {
        /* CFA = the caller's SP at the call: usage below main()'s frame */
        ep_paint_stack((uintptr_t)__builtin_dwarf_cfa());
    }
}

void ep_write(const void *buf, unsigned len)
{
    const char *p = (const char *)buf;
    while (len > 0u) {
        ssize_t n = write(1, p, len);
        if (n <= 0) {
            break;
        }
        p += n;
        len -= (unsigned)n;
    }
}

void ep_puts(const char *s)
{
    unsigned n = 0;
    while (s[n] != '\0') {
        n++;
    }
    ep_write(s, n);
}

void ep_exit(int status)
{
    _exit(status);
}

volatile unsigned ep_bench_begin_count;
volatile unsigned ep_bench_end_count;

__attribute__((noinline, noipa, used)) void ep_bench_begin(void)
{
    ep_bench_begin_count = ep_bench_begin_count + 1u;
}

__attribute__((noinline, noipa, used)) void ep_bench_end(void)
{
    ep_bench_end_count = ep_bench_end_count + 2u;
}

unsigned ep_stack_high_water_bytes(void)
{
    const volatile uint32_t *p = (const volatile uint32_t *)ep_stack_bottom;
    if (ep_stack_top == 0u) {
        return 0u;
    }
    while ((uintptr_t)p < ep_stack_top && *p == EP_STACK_PAINT) {
        p++;
    }
    return (unsigned)(ep_stack_top - (uintptr_t)p);
}

unsigned ep_stack_size_bytes(void)
{
    return (unsigned)(ep_stack_top - ep_stack_bottom);
}
