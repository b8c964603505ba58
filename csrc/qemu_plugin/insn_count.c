/*
 * edgeprune instruction-count plugin for QEMU TCG (plugin API version 1,
 * as shipped by QEMU 7.2; Debian installs no qemu-plugin.h so the handful
 * of declarations used are written out below).
 *
 * Every guest instruction gets an inline "add 1" on a 64-bit counter, so
 * the count is exact even when a translation block is left early
 * (exceptions, semihosting calls). The instructions at the begin= and end=
 * addresses additionally get a callback that snapshots the counter; each
 * begin/end pair appends "insns <n>" to outfile= (n = instructions executed
 * from the begin instruction up to, not including, the end instruction).
 * The first begin also appends "first_begin <n>" (instructions executed
 * before it: reset/exec, C runtime start-up and main() up to the call), and
 * at exit "total <n>" is appended.
 *
 * Arguments (-plugin file=insn_count.so,begin=0x..,end=0x..,outfile=path):
 *   begin=ADDR   guest address of the begin marker (Thumb bit ignored)
 *   end=ADDR     guest address of the end marker
 *   outfile=PATH file to append results to (default: QEMU's plugin log)
 *   threads=on   multi-threaded guests (see below)
 * Both system emulation (qemu-system-arm) and user mode (qemu-aarch64,
 * qemu-x86_64) are supported.
 *
 * The default counter is one global 64-bit variable that the inline adds
 * update without atomics: exact for a single-threaded guest, but QEMU user
 * mode runs guest threads in parallel host threads, which would lose
 * updates. threads=on counts per vCPU (one per guest thread) instead: a
 * callback per executed translation block atomically adds its instruction
 * count to the vCPU's counter, and the marker callbacks subtract the block's
 * instructions from the marker on, so the markers stay exact as long as no
 * block is left early (in user mode only a fault or signal does that). Each
 * begin/end pair (markers run on one thread) then reports "insns <n>", the
 * sum over all threads, followed by "thread_insns <vcpu> <n>" for each vCPU
 * that executed instructions in between. Threads other than the marker's
 * may be mid-block at a marker (waking up or going to sleep): their counts
 * can be off by a few blocks.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API (subset, version 1) ------------------------------ */
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t; /* only ever passed by pointer */

enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS,
    QEMU_PLUGIN_CB_R_REGS,
    QEMU_PLUGIN_CB_RW_REGS,
};
enum qemu_plugin_op {
    QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index,
                                            void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                 size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags,
                                            void *userdata);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
                                          qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags,
                                          void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_outs(const char *string);

#define EP_EXPORT __attribute__((visibility("default")))
EP_EXPORT int qemu_plugin_version = 1;
EP_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                  int argc, char **argv);

/* ---- plugin state ------------------------------------------------------- */
static uint64_t g_count;        /* instructions executed so far */
static uint64_t g_begin_snap;   /* counter at the last begin marker */
static bool g_in_region;
static bool g_seen_begin;
static uint64_t g_begin_addr = UINT64_MAX;
static uint64_t g_end_addr = UINT64_MAX;
static FILE *g_out;
static uint64_t g_pairs;

static void emit(const char *line);

/* threads=on: per-vCPU counters (vCPU indices past the table share the last slot; every add is atomic). */
#define MAX_VCPUS 256
static bool g_threads;
static uint64_t g_vcpu_count[MAX_VCPUS];
static uint64_t g_vcpu_snap[MAX_VCPUS];
static unsigned int g_vcpu_seen; /* 1 + the highest vCPU index counted */

static unsigned int slot(unsigned int vcpu)
{
    return vcpu < MAX_VCPUS ? vcpu : MAX_VCPUS - 1;
}

static void on_tb_exec(unsigned int vcpu, void *udata)
{
    unsigned int s = slot(vcpu);
    __atomic_fetch_add(&g_vcpu_count[s], (uint64_t)(uintptr_t)udata, __ATOMIC_RELAXED);
    if (__atomic_load_n(&g_vcpu_seen, __ATOMIC_RELAXED) <= s) {
        unsigned int seen = __atomic_load_n(&g_vcpu_seen, __ATOMIC_RELAXED);
        while (seen <= s && !__atomic_compare_exchange_n(&g_vcpu_seen, &seen, s + 1, false,
                                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        }
    }
}

/* Instructions executed by each vCPU so far, the marker's own vCPU exactly up to (excluding) the marker:
 * its block's count was added on entry, `rest` = the block's instructions from the marker on. */
static void snapshot(unsigned int vcpu, uint64_t rest, uint64_t *out)
{
    unsigned int n = __atomic_load_n(&g_vcpu_seen, __ATOMIC_RELAXED), i;
    for (i = 0; i < MAX_VCPUS; i++) {
        out[i] = i < n ? __atomic_load_n(&g_vcpu_count[i], __ATOMIC_RELAXED) : 0;
    }
    out[slot(vcpu)] -= rest;
}

static void on_begin_threads(unsigned int vcpu, void *udata)
{
    snapshot(vcpu, (uint64_t)(uintptr_t)udata, g_vcpu_snap);
    if (!g_seen_begin) {
        char line[64];
        uint64_t sum = 0;
        unsigned int i;
        for (i = 0; i < MAX_VCPUS; i++) {
            sum += g_vcpu_snap[i];
        }
        g_seen_begin = true;
        snprintf(line, sizeof(line), "first_begin %" PRIu64 "\n", sum);
        emit(line);
    }
    g_in_region = true;
}

static void on_end_threads(unsigned int vcpu, void *udata)
{
    static uint64_t now[MAX_VCPUS];
    char line[80];
    uint64_t sum = 0;
    unsigned int i;
    if (!g_in_region) {
        emit("unpaired-end\n");
        return;
    }
    g_in_region = false;
    g_pairs++;
    snapshot(vcpu, (uint64_t)(uintptr_t)udata, now);
    for (i = 0; i < MAX_VCPUS; i++) {
        sum += now[i] - g_vcpu_snap[i];
    }
    snprintf(line, sizeof(line), "insns %" PRIu64 "\n", sum);
    emit(line);
    for (i = 0; i < MAX_VCPUS; i++) {
        if (now[i] != g_vcpu_snap[i]) {
            snprintf(line, sizeof(line), "thread_insns %u %" PRIu64 "\n", i, now[i] - g_vcpu_snap[i]);
            emit(line);
        }
    }
}

static void on_tb_trans_threads(struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)n);
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (pc == g_begin_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin_threads, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)(n - i));
        }
        if (pc == g_end_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end_threads, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)(n - i));
        }
    }
}

static void emit(const char *line)
{
    if (g_out != NULL) {
        fputs(line, g_out);
        fflush(g_out); /* results survive an abrupt guest exit */
    } else {
        qemu_plugin_outs(line);
    }
}

static void on_begin(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (!g_seen_begin) {
        char line[64];
        g_seen_begin = true;
        snprintf(line, sizeof(line), "first_begin %" PRIu64 "\n", g_count);
        emit(line);
    }
    g_begin_snap = g_count;
    g_in_region = true;
}

static void on_end(unsigned int vcpu, void *udata)
{
    char line[64];
    (void)vcpu;
    (void)udata;
    if (!g_in_region) {
        emit("unpaired-end\n");
        return;
    }
    g_in_region = false;
    g_pairs++;
    snprintf(line, sizeof(line), "insns %" PRIu64 "\n", g_count - g_begin_snap);
    emit(line);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    if (g_threads) {
        on_tb_trans_threads(tb);
        return;
    }
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        /* Marker callbacks are registered before the inline add and the
         * two snapshots are taken the same way, so any ordering inside
         * QEMU cancels out in end - begin. */
        if (pc == g_begin_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin,
                                                   QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        if (pc == g_end_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end,
                                                   QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &g_count, 1);
    }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
    char line[64];
    (void)id;
    (void)udata;
    if (g_threads) {
        unsigned int i;
        g_count = 0;
        for (i = 0; i < MAX_VCPUS; i++) {
            g_count += __atomic_load_n(&g_vcpu_count[i], __ATOMIC_RELAXED);
        }
    }
    snprintf(line, sizeof(line), "total %" PRIu64 "\n", g_count);
    emit(line);
    if (g_out != NULL) {
        fclose(g_out);
        g_out = NULL;
    }
}

static bool parse_addr(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || *end != '\0') {
        return false;
    }
    *out = (uint64_t)v & ~(uint64_t)1; /* drop the Thumb bit */
    return true;
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                        int argc, char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        /* QEMU >= 6.1 passes "key=value"; older syntax wrapped it in arg= */
        if (strncmp(a, "arg=", 4) == 0) {
            a += 4;
        }
        if (strncmp(a, "begin=", 6) == 0) {
            if (!parse_addr(a + 6, &g_begin_addr)) {
                fprintf(stderr, "insn_count: bad begin address '%s'\n", a + 6);
                return -1;
            }
        } else if (strncmp(a, "end=", 4) == 0) {
            if (!parse_addr(a + 4, &g_end_addr)) {
                fprintf(stderr, "insn_count: bad end address '%s'\n", a + 4);
                return -1;
            }
        } else if (strncmp(a, "outfile=", 8) == 0) {
            g_out = fopen(a + 8, "w");
            if (g_out == NULL) {
                fprintf(stderr, "insn_count: cannot open '%s'\n", a + 8);
                return -1;
            }
        } else if (strcmp(a, "threads=on") == 0) {
            g_threads = true;
        } else if (strcmp(a, "threads=off") == 0) {
            g_threads = false;
        } else {
            fprintf(stderr, "insn_count: unknown argument '%s'\n", a);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
