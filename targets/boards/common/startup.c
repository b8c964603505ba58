/*
 * edgeprune startup for the QEMU Cortex-M boards (mps2-an386 = M4, mps2-an500 = M7, mps3-an547 = M55).
 * Vector table + Reset_Handler: enable the FPU (and on the M55 MVE/Helium, same CP10/CP11 bits) through
 * CPACR, set the stack pointer, on Armv8-M also the stack limit, then continue in ep_crt_start() (crt.c).
 */
#include <stdint.h>

extern uint32_t __ep_stack_top[];
void ep_crt_start(void);
void ep_default_handler(void);
void Reset_Handler(void);

#define EP_NUM_VECTORS (16 + 32) /* system exceptions + first 32 IRQs */

__attribute__((section(".ep_vectors"), used, aligned(256)))
const uintptr_t ep_vectors[EP_NUM_VECTORS] = {
    [0] = (uintptr_t)__ep_stack_top,
    [1] = (uintptr_t)Reset_Handler,
    [2 ... EP_NUM_VECTORS - 1] = (uintptr_t)ep_default_handler,
};

__attribute__((naked, noreturn, section(".text.Reset_Handler")))
void Reset_Handler(void)
{
    __asm__ volatile(
        "ldr  r0, =__ep_stack_top      \n"
        "mov  sp, r0                   \n"
        /* CPACR (0xE000ED88): CP10/CP11 full access -> FPU (and MVE on Armv8.1-M) */
        "ldr  r0, =0xE000ED88          \n"
        "ldr  r1, [r0]                 \n"
        "orr  r1, r1, #(0xF << 20)     \n"
        "str  r1, [r0]                 \n"
        "dsb                           \n"
        "isb                           \n"
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
        /* MSPLIM = stack bottom: a stack overflow faults (STKOF) instead
         * of silently corrupting .bss */
        "ldr  r0, =__ep_stack_bottom   \n"
        "msr  msplim, r0               \n"
#endif
        "b    ep_crt_start             \n"
        ".ltorg                        \n");
}
