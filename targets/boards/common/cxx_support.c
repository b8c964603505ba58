/*
 * Minimal freestanding C++ support for edgeprune firmware built with
 * -fno-exceptions -fno-rtti -fno-threadsafe-statics: no heap exists, so
 * the allocation functions trap. All symbols are weak.
 */
#include "board.h"

void *__dso_handle __attribute__((weak)) = 0;

__attribute__((weak)) void __cxa_pure_virtual(void)
{
    ep_puts("\nEP FAULT: pure virtual call\n");
    ep_exit(134);
}

__attribute__((weak)) int __cxa_atexit(void (*f)(void *), void *p, void *d)
{
    (void)f;
    (void)p;
    (void)d;
    return 0; /* static destructors never run: firmware does not return */
}

/* operator delete(void*) and operator delete(void*, unsigned int). */
__attribute__((weak)) void _ZdlPv(void *p) { (void)p; }
__attribute__((weak)) void _ZdlPvj(void *p, unsigned int n) { (void)p; (void)n; }
