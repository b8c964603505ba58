/*
 * edgeprune board support API (identical on every board).
 *
 * Bare-metal boards (mps2-an386, mps2-an500, mps3-an547) implement it over
 * Arm semihosting; the Linux boards (rpi4/rpi5/host) over stdio.
 * No heap is used anywhere.
 */
#ifndef EP_BOARD_H
#define EP_BOARD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Called by main() first. Idempotent. */
void ep_board_init(void);

/* Write raw bytes to the host's stdout (semihosting SYS_WRITE on ":tt"). */
void ep_write(const void *buf, unsigned len);

/* Write a NUL-terminated string (no newline added). */
void ep_puts(const char *s);

/* Terminate the run with an exit status (SYS_EXIT_EXTENDED). Never returns. */
void ep_exit(int status) __attribute__((noreturn));

/*
 * Benchmark markers. The QEMU instruction-count plugin snapshots its
 * counter when the first instruction of each function executes; each
 * begin/end pair yields one count. They are real (non-inlined) calls.
 */
void ep_bench_begin(void);
void ep_bench_end(void);

/* Bytes of the painted stack region that were ever written. */
unsigned ep_stack_high_water_bytes(void);

/* Size of the painted stack region in bytes (the board's stack reserve). */
unsigned ep_stack_size_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* EP_BOARD_H */
