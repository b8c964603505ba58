// The thread pool of multi-threaded inference (edgeprune/runtime/parallel.h): EP_MAX_THREADS - 1 static worker slots,
// one job at a time, a mutex + condition variables (no spinning: idle workers cost no CPU and, under QEMU, no counted
// instructions).
#include "edgeprune/runtime/parallel.h"

#if defined(__linux__)
#include <pthread.h>
#include <stdint.h>

namespace {

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;       // guards everything below
pthread_mutex_t g_run_lock = PTHREAD_MUTEX_INITIALIZER;   // one ep_parallel_run at a time
pthread_cond_t g_go = PTHREAD_COND_INITIALIZER;           // a new job (g_generation changed)
pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;         // g_pending reached 0
pthread_t g_workers[EP_MAX_THREADS];
uint32_t g_first_generation[EP_MAX_THREADS];  // g_generation when worker i was created: its jobs come after
int32_t g_started = 0;        // workers running: ids 1 .. g_started
uint32_t g_generation = 0;    // bumped per job
ep_parallel_task g_task = nullptr;
int32_t g_count = 0;          // slices of the current job
int32_t g_pending = 0;        // worker slices of the current job not yet finished
ep_status g_status = EP_OK;   // first failing worker status of the current job

void *worker(void *arg) {
  const int32_t id = (int32_t)(intptr_t)arg;
  pthread_mutex_lock(&g_lock);
  uint32_t seen = g_first_generation[id];
  for (;;) {
    while (g_generation == seen) pthread_cond_wait(&g_go, &g_lock);
    seen = g_generation;
    if (id >= g_count) continue;  // idle in this job (fewer slices than threads)
    const ep_parallel_task task = g_task;
    pthread_mutex_unlock(&g_lock);
    const ep_status status = task(id);
    pthread_mutex_lock(&g_lock);
    if (status != EP_OK && g_status == EP_OK) g_status = status;
    if (--g_pending == 0) pthread_cond_signal(&g_done);
  }
  return nullptr;
}

}  // namespace

extern "C" int ep_parallel_init(int32_t threads) {
  if (threads < 1 || threads > EP_MAX_THREADS) return -1;
  int result = 0;
  pthread_mutex_lock(&g_lock);
  while (g_started < threads - 1) {
    const int32_t id = g_started + 1;
    g_first_generation[id] = g_generation;
    if (pthread_create(&g_workers[id], nullptr, worker, (void *)(intptr_t)id) != 0) {
      result = -1;
      break;
    }
    g_started = id;
  }
  pthread_mutex_unlock(&g_lock);
  return result;
}

extern "C" ep_status ep_parallel_run(int32_t count, ep_parallel_task task) {
  if (task == nullptr || count < 1) return EP_ERROR_ARGUMENT;
  if (count == 1) return task(0);
  pthread_mutex_lock(&g_run_lock);
  pthread_mutex_lock(&g_lock);
  if (count - 1 > g_started) {
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_run_lock);
    return EP_ERROR_ARGUMENT;
  }
  g_task = task;
  g_count = count;
  g_pending = count - 1;
  g_status = EP_OK;
  ++g_generation;
  pthread_cond_broadcast(&g_go);
  pthread_mutex_unlock(&g_lock);
  const ep_status own = task(0);
  pthread_mutex_lock(&g_lock);
  while (g_pending > 0) pthread_cond_wait(&g_done, &g_lock);
  const ep_status status = own != EP_OK ? own : g_status;
  pthread_mutex_unlock(&g_lock);
  pthread_mutex_unlock(&g_run_lock);
  return status;
}

#else  // no pthreads (bare metal): one thread, slices run in order

extern "C" int ep_parallel_init(int32_t threads) { return threads == 1 ? 0 : -1; }

extern "C" ep_status ep_parallel_run(int32_t count, ep_parallel_task task) {
  if (task == nullptr || count < 1) return EP_ERROR_ARGUMENT;
  for (int32_t i = 0; i < count; ++i) {
    const ep_status status = task(i);
    if (status != EP_OK) return status;
  }
  return EP_OK;
}

#endif
