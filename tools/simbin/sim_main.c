/*
 * tools/sim — deterministic simulators (DESIGN.md §9). `sim raft` runs the Raft core under the
 * simulator of testsuite/sim/sim_raft.c:
 *
 *   sim raft --seed S [--trace] [--nodes 3|5]   one run, replayed exactly; prints the coverage
 *                                               counters and a trace hash (same every time)
 *   sim raft --seeds N [--first-seed S] [--tap] many runs; prints every failing seed and the
 *                                               check it violated, then totals
 *   sim raft ... --expect-violation             for builds with a planted bug: succeeds when a
 *                                               run fails, printing the first failing seed
 * Exit status: 0 when every run held (or, with --expect-violation, when one failed), else 1.
 */
#include "sim_raft.h"

#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static sigjmp_buf panic_jmp;
static volatile sig_atomic_t in_batch;

static void on_abort(int sig)
{
    (void)sig;
    if (in_batch) {
        siglongjmp(panic_jmp, 1);
    }
}

/* Runs one seed; an abort() inside (a failed assertion) is reported as a "panic" violation so a
 * batch goes on with the next seed. The run's memory is lost, acceptable for a test tool. */
static void run_guarded(const sim_raft_opts *o, sim_raft_result *r)
{
    in_batch = 1;
    if (sigsetjmp(panic_jmp, 1) != 0) {
        r->ok = false;
        snprintf(r->check, sizeof(r->check), "panic");
        snprintf(r->why, sizeof(r->why), "abort() during the run (see the message above)");
    } else {
        sim_raft_run(o, r);
    }
    in_batch = 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: sim raft (--seed S [--trace] | --seeds N [--first-seed S] [--tap]) "
                    "[--nodes 3|5] [--chaos-ms MS] [--expect-violation]\n");
}

static void add_cov(sim_raft_coverage *t, const sim_raft_coverage *c)
{
    const uint64_t *src = (const uint64_t *)c;
    uint64_t *dst = (uint64_t *)t;
    for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++) {
        dst[i] += src[i];
    }
}

static int cmd_raft(int argc, char **argv)
{
    uint64_t seed = 0, first = 1, count = 0;
    bool have_seed = false, tap = false, trace = false, expect = false;
    sim_raft_opts o;
    memset(&o, 0, sizeof(o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--seed") == 0 && v) {
            seed = strtoull(v, NULL, 0);
            have_seed = true;
            i++;
        } else if (strcmp(a, "--seeds") == 0 && v) {
            count = strtoull(v, NULL, 0);
            i++;
        } else if (strcmp(a, "--first-seed") == 0 && v) {
            first = strtoull(v, NULL, 0);
            i++;
        } else if (strcmp(a, "--nodes") == 0 && v) {
            o.nodes = atoi(v);
            i++;
        } else if (strcmp(a, "--chaos-ms") == 0 && v) {
            o.chaos_ms = (uint32_t)strtoul(v, NULL, 0);
            i++;
        } else if (strcmp(a, "--trace") == 0) {
            trace = true;
        } else if (strcmp(a, "--tap") == 0) {
            tap = true;
        } else if (strcmp(a, "--expect-violation") == 0) {
            expect = true;
        } else {
            usage();
            return 2;
        }
    }
    if (o.nodes != 0 && o.nodes != 3 && o.nodes != 5) {
        usage();
        return 2;
    }
    if (have_seed) {
        o.seed = seed;
        o.trace = trace ? stdout : NULL;
        sim_raft_result r;
        int rc = sim_raft_run(&o, &r);
        printf("seed %" PRIu64 " nodes %d: %s%s%s%s\n", seed, r.nodes, r.ok ? "ok" : "VIOLATION ",
               r.check, r.ok ? "" : ": ", r.why);
        sim_raft_print_coverage(stdout, &r.cov);
        printf("trace-hash %016" PRIx64 "\n", r.trace_hash);
        return expect ? (rc ? 0 : 1) : rc;
    }
    if (count == 0) {
        usage();
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_abort;
    sigaction(SIGABRT, &sa, NULL);
    sim_raft_coverage total;
    memset(&total, 0, sizeof(total));
    uint64_t failed = 0, done = 0, n3 = 0, n5 = 0, live_max = 0, live_max_seed = 0;
    if (tap) {
        printf("1..%" PRIu64 "\n", expect ? (uint64_t)1 : count);
    }
    for (uint64_t s = first; s < first + count; s++) {
        o.seed = s;
        sim_raft_result r;
        memset(&r, 0, sizeof(r));
        run_guarded(&o, &r);
        done++;
        add_cov(&total, &r.cov);
        n3 += r.nodes == 3;
        n5 += r.nodes == 5;
        if (r.cov.liveness_ms > live_max) {
            live_max = r.cov.liveness_ms;
            live_max_seed = s;
        }
        if (!r.ok && expect && strcmp(r.check, "coverage") == 0) {
            continue; /* only a safety or liveness violation counts as catching the bug */
        }
        if (!r.ok) {
            failed++;
            if (expect) {
                printf("%sseed %" PRIu64 " caught the planted bug after %" PRIu64
                       " seeds: %s: %s\n",
                       tap ? "ok 1 - " : "", s, done, r.check, r.why);
                return 0;
            }
            printf("%sFAIL seed %" PRIu64 ": %s: %s\n", tap ? "not ok - " : "", s, r.check, r.why);
            fflush(stdout);
        } else if (tap && !expect) {
            printf("ok %" PRIu64 " - seed %" PRIu64 " (%d nodes, %" PRIu64 " writes, %" PRIu64
                   " reads)\n",
                   s - first + 1, s, r.nodes, r.cov.writes_ok,
                   r.cov.reads_ok + r.cov.lease_reads_ok);
        }
    }
    if (expect) {
        printf("%sno violation in %" PRIu64 " seeds: the planted bug was not caught\n",
               tap ? "not ok 1 - " : "", done);
        return 1;
    }
    printf("%sseeds %" PRIu64 " (3 nodes: %" PRIu64 ", 5 nodes: %" PRIu64 ") failed %" PRIu64 "\n",
           tap ? "# " : "", done, n3, n5, failed);
    printf("%stotals: ", tap ? "# " : "");
    sim_raft_print_coverage(stdout, &total);
    printf("%sslowest recovery after healing: %" PRIu64 " ms (seed %" PRIu64 ")\n", tap ? "# " : "",
           live_max, live_max_seed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "raft") == 0) {
        return cmd_raft(argc - 2, argv + 2);
    }
    fprintf(stderr, "usage: sim raft ... (subcommands: raft)\n");
    return 2;
}
