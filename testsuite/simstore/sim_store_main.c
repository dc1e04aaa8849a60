/*
 * sim_store_main.c — the `sim_store` binary (testsuite/simstore, DESIGN.md §9):
 *
 * Options for both: --ticks T (faulty phase), --workload mixed|register|bank (default mixed: odd
 * seeds run the Percolator bank, even seeds the registers).
 *
 *   sim_store --seed S [--trace] [--ticks T]      one run, replayed exactly: prints the coverage
 *                                                 counters and the trace hash
 *   sim_store --seeds N [--first-seed S] [--tap] [--replay-check K] [--ticks T]
 *                                                 N runs; TAP prints one line per seed; the
 *                                                 first K seeds run twice and must hash alike
 *   ... --expect-violation                        for a build with a planted bug: succeeds when
 *                                                 some seed fails, printing it
 * Exit status 0 when every run held (or, with --expect-violation, when one failed).
 */
#include "sim_store.h"

#include "cm_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cov_names[] = {
    "stores",
    "ticks",
    "writes_acked",
    "writes_failed",
    "writes_unknown",
    "reads_ok",
    "reads_failed",
    "lease_reads",
    "index_reads",
    "msgs_delivered",
    "msgs_dropped",
    "msgs_duplicated",
    "partitions",
    "crashes",
    "crashes_all",
    "splits",
    "conf_changes",
    "transfers",
    "leader_changes",
    "snapshots_applied",
    "peers_destroyed",
    "tombstones_sent",
    "overlap_drops",
    "epoch_rejections",
    "stale_commands",
    "log_compactions",
    "regions_at_end",
    "syncs",
    "acks_checked",
    "bank_seeds",
    "bank_committed",
    "bank_aborted",
    "bank_undetermined",
    "bank_checks",
    "bank_locks_resolved",
    "bank_commits_verified",
};

static void print_cov(const sim_store_coverage *c, const char *prefix)
{
    _Static_assert(sizeof(cov_names) / sizeof(cov_names[0]) ==
                       sizeof(sim_store_coverage) / sizeof(uint64_t),
                   "one name per coverage counter");
    const uint64_t *v = (const uint64_t *)c;
    for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++) {
        printf("%s%-18s %" PRIu64 "\n", prefix, cov_names[i], v[i]);
    }
}

static void add_cov(sim_store_coverage *t, const sim_store_coverage *c)
{
    const uint64_t *src = (const uint64_t *)c;
    uint64_t *dst = (uint64_t *)t;
    for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++) {
        dst[i] += src[i];
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: sim_store (--seed S [--trace] | --seeds N [--first-seed S] [--tap] "
                    "[--replay-check K]) [--ticks T] [--workload mixed|register|bank] "
                    "[--expect-violation]\n");
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, first = 1, count = 0, replay = 0;
    uint32_t ticks = 0;
    uint8_t workload = SIM_WORKLOAD_MIXED;
    bool have_seed = false, tap = false, trace = false, expect = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--seed") == 0 && v) {
            seed = strtoull(v, NULL, 10);
            have_seed = true;
            i++;
        } else if (strcmp(a, "--seeds") == 0 && v) {
            count = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--first-seed") == 0 && v) {
            first = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--replay-check") == 0 && v) {
            replay = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--ticks") == 0 && v) {
            ticks = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--workload") == 0 && v) {
            if (strcmp(v, "register") == 0) {
                workload = SIM_WORKLOAD_REGISTER;
            } else if (strcmp(v, "bank") == 0) {
                workload = SIM_WORKLOAD_BANK;
            } else if (strcmp(v, "mixed") == 0) {
                workload = SIM_WORKLOAD_MIXED;
            } else {
                usage();
                return 2;
            }
            i++;
        } else if (strcmp(a, "--tap") == 0) {
            tap = true;
        } else if (strcmp(a, "--trace") == 0) {
            trace = true;
        } else if (strcmp(a, "--expect-violation") == 0) {
            expect = true;
        } else {
            usage();
            return 2;
        }
    }
    if (have_seed == (count > 0)) {
        usage();
        return 2;
    }
    cm_log_set_level(getenv("SIM_LOG") ? CM_LOG_INFO : CM_LOG_OFF);
    sim_store_opts o;
    memset(&o, 0, sizeof(o));
    o.trace = trace;
    o.ticks = ticks;
    o.workload = workload;
    if (have_seed) {
        o.seed = seed;
        sim_store_result r;
        sim_store_run(&o, &r);
        printf("seed %" PRIu64 ": %s", seed, r.ok ? "ok" : "VIOLATION");
        if (!r.ok) {
            printf(" [%s] %s", r.check, r.why);
        }
        printf("\ntrace hash %016" PRIx64 "\n", r.trace_hash);
        print_cov(&r.cov, "  ");
        return expect ? (r.ok ? 1 : 0) : (r.ok ? 0 : 1);
    }
    sim_store_coverage total;
    memset(&total, 0, sizeof(total));
    uint64_t failed = 0, first_failed = 0;
    if (tap) {
        printf("1..%" PRIu64 "\n", count + (replay > 0 ? 1 : 0));
    }
    bool replay_ok = true;
    for (uint64_t k = 0; k < count; k++) {
        o.seed = first + k;
        sim_store_result r;
        sim_store_run(&o, &r);
        if (k < replay) {
            sim_store_result r2;
            sim_store_run(&o, &r2);
            if (r2.trace_hash != r.trace_hash || r2.ok != r.ok) {
                replay_ok = false;
                printf("# seed %" PRIu64 " does not replay: %016" PRIx64 " vs %016" PRIx64 "\n",
                       o.seed, r.trace_hash, r2.trace_hash);
            }
        }
        add_cov(&total, &r.cov);
        if (!r.ok) {
            failed++;
            if (first_failed == 0) {
                first_failed = o.seed;
            }
        }
        if (tap) {
            printf("%s %" PRIu64 " - seed %" PRIu64 " %016" PRIx64 "%s%s%s%s\n",
                   r.ok ? "ok" : "not ok", k + 1, o.seed, r.trace_hash, r.ok ? "" : " [",
                   r.ok ? "" : r.check, r.ok ? "" : "] ", r.ok ? "" : r.why);
        } else if (!r.ok) {
            printf("seed %" PRIu64 ": VIOLATION [%s] %s\n", o.seed, r.check, r.why);
        }
        fflush(stdout);
        if (expect && !r.ok) {
            break;
        }
    }
    if (tap && replay > 0) {
        printf("%s %" PRIu64 " - the first %" PRIu64 " seeds replay to the same trace hash\n",
               replay_ok ? "ok" : "not ok", count + 1, replay);
    }
    printf("# seeds %" PRIu64 ", failed %" PRIu64 "\n", count, failed);
    print_cov(&total, "# total ");
    if (expect) {
        if (failed > 0) {
            printf("# planted bug caught at seed %" PRIu64 "\n", first_failed);
            return 0;
        }
        printf("# planted bug NOT caught\n");
        return 1;
    }
    return failed == 0 && replay_ok ? 0 : 1;
}
