/* edgeprune runtime: the thread pool of multi-threaded inference (`edgeprune build --threads N`, Linux targets).
 *
 * Generated code with N > 1 starts the pool in its init function (ep_parallel_init(N)) and runs each heavy kernel
 * call as `count` slices (output rows or element ranges, decided at build time) through ep_parallel_run: slice 0 on
 * the calling thread, slice i on worker i, and returns when every slice is done (a barrier per kernel call). The
 * slices write disjoint output bytes and each has its own scratch region in the arena, so results are bit-identical
 * for every N.
 *
 * The pool is static (EP_MAX_THREADS - 1 worker threads at most, no heap in this code; pthread_create allocates each
 * worker's stack). Workers sleep on a condition variable between calls (no spinning) and live until the process
 * exits. One ep_parallel_run at a time per process: concurrent callers (two models invoked from two threads) are
 * serialized. Without pthreads (bare-metal builds) ep_parallel_init accepts only 1 thread and ep_parallel_run runs
 * the slices one after another on the calling thread. */
#ifndef EDGEPRUNE_RUNTIME_PARALLEL_H
#define EDGEPRUNE_RUNTIME_PARALLEL_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

#define EP_MAX_THREADS 64

/* One slice of a kernel call: runs slice `index` (0 <= index < count) and returns its status. */
typedef ep_status (*ep_parallel_task)(int32_t index);

/* Starts worker threads until threads - 1 are running (1 <= threads <= EP_MAX_THREADS; idempotent, thread-safe).
 * Returns 0, or -1 if threads is out of range, the build has no pthreads (threads > 1) or a thread cannot start. */
int ep_parallel_init(int32_t threads);

/* Runs task(0) .. task(count - 1), task(i) on worker i (i >= 1) and task(0) on the caller, and waits for all.
 * count must not exceed the threads started by ep_parallel_init (else EP_ERROR_ARGUMENT before anything runs).
 * Returns EP_OK, or the status of a failing slice. */
ep_status ep_parallel_run(int32_t count, ep_parallel_task task);

EP_EXTERN_C_END

#endif
