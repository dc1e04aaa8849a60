/*
 * sim_oracle.h — an independent witness of what each simulated store has made durable.
 *
 * The simulator links the raftstore with `-Wl,--wrap=kv_engine_write,kv_engine_sync,
 * kv_engine_crash`, so every write the store makes passes through here before reaching the memory
 * engine. The oracle parses the raft column family's log entries and truncation points out of
 * each batch, holds them as pending, and moves them to the durable set only when a sync write or
 * a sync makes them durable — the engine's own contract, observed from outside the store. A crash
 * drops what was pending. The simulator asks it, when a write is acknowledged, whether the
 * write's entry is durable on a quorum (DESIGN.md §9).
 */
#ifndef SIM_ORACLE_H
#define SIM_ORACLE_H

#include "kv_engine.h"

#include <stdbool.h>
#include <stdint.h>

/* Stores the oracle can follow (engines are registered by index). */
#define SIM_ORACLE_STORES_MAX 8

void sim_oracle_reset(void);
/* Follows engine e as store index i (0-based). */
void sim_oracle_register(kv_engine *e, int i);
/* Whether entry (index, term) of region is durable on store i: in its durable log, or covered by
 * its durable truncation point. */
bool sim_oracle_durable(int i, uint64_t region, uint64_t index, uint64_t term);
/* Counters: batches seen, syncs seen. */
uint64_t sim_oracle_writes(void);
uint64_t sim_oracle_syncs(void);

#endif
