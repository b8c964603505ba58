/*
 * edgeprune bare-metal board support: console/exit over Arm semihosting,
 * benchmark markers and stack high-water measurement.
 *
 * Semihosting calls (Arm "Semihosting for AArch32 and AArch64"):
 *   r0 = operation number, r1 = pointer to parameter block, "BKPT 0xAB" on
 *   M-profile; the result comes back in r0.
 */
#include "board.h"

#include <stdint.h>

#define SEMI_SYS_OPEN          0x01u
#define SEMI_SYS_WRITE         0x05u
#define SEMI_SYS_EXIT          0x18u
#define SEMI_SYS_EXIT_EXTENDED 0x20u
#define SEMI_ADP_APP_EXIT      0x20026u /* ADP_Stopped_ApplicationExit */
#define SEMI_OPEN_MODE_W       4u       /* "w": ":tt" in mode 4 is stdout */

#define EP_STACK_PAINT 0xC5AC5AC5u

/* Provided by the linker script. */
extern uint32_t __ep_stack_bottom[];
extern uint32_t __ep_stack_top[];

static inline uintptr_t semi_call(uintptr_t op, const void *arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static intptr_t ep_stdout_handle = -1;

void ep_board_init(void)
{
    if (ep_stdout_handle < 0) {
        static const char tt[] = ":tt";
        uintptr_t blk[3];
        blk[0] = (uintptr_t)tt;
        blk[1] = SEMI_OPEN_MODE_W;
        blk[2] = sizeof(tt) - 1u;
        ep_stdout_handle = (intptr_t)semi_call(SEMI_SYS_OPEN, blk);
    }
}

void ep_write(const void *buf, unsigned len)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (ep_stdout_handle < 0) {
        ep_board_init();
    }
    while (len > 0u) {
        uintptr_t blk[3];
        uintptr_t left;
        blk[0] = (uintptr_t)ep_stdout_handle;
        blk[1] = (uintptr_t)p;
        blk[2] = len;
        left = semi_call(SEMI_SYS_WRITE, blk); /* bytes NOT written */
        if (left >= len) {
            break; /* error: give up rather than spin */
        }
        p += len - left;
        len = (unsigned)left;
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
    uintptr_t blk[2];
    blk[0] = SEMI_ADP_APP_EXIT;
    blk[1] = (uintptr_t)(intptr_t)status;
    (void)semi_call(SEMI_SYS_EXIT_EXTENDED, blk);
    /* Fallback for hosts without SYS_EXIT_EXTENDED (status is lost). */
    (void)semi_call(SEMI_SYS_EXIT, (const void *)(uintptr_t)SEMI_ADP_APP_EXIT);
    for (;;) {
        __asm__ volatile("wfi");
    }
}

/* Marker bodies differ so that no pass can merge them; noipa keeps them out
 * of every inter-procedural optimisation (inlining, cloning, ICF). */
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
    const volatile uint32_t *p = __ep_stack_bottom;
    while (p < __ep_stack_top && *p == EP_STACK_PAINT) {
        p++;
    }
    return (unsigned)((uintptr_t)__ep_stack_top - (uintptr_t)p);
}

unsigned ep_stack_size_bytes(void)
{
    return (unsigned)((uintptr_t)__ep_stack_top - (uintptr_t)__ep_stack_bottom);
}
