/* ctl — the operator's command-line tool: talks to PD (and stores) over RPC.
 * Subcommands arrive with the issues that give them something to talk to. */
#include "cm_config.h"

#include <stdio.h>
#include <string.h>

typedef struct ctl_config {
    char *pd;
    int json;
} ctl_config;

static const cm_cfg_option options[] = {
    {"pd", CM_CFG_STRING, offsetof(ctl_config, pd), "127.0.0.1:2379", 0, 0, NULL,
     "PD address HOST:PORT"},
    {"json", CM_CFG_BOOL, offsetof(ctl_config, json), "false", 0, 0, NULL,
     "print JSON instead of a table"},
};

static const cm_cfg_table table = {
    "ctl",
    "Tessera control tool.\n\ncommands: (none yet: tso, stores, regions, region and split "
    "arrive with the PD and kvnode issues)",
    options, sizeof(options) / sizeof(options[0])};

int main(int argc, char **argv)
{
    ctl_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cm_err err;
    int rc = cm_config_load(&table, &cfg, &argc, argv, &err);
    if (rc == CM_CONFIG_EXIT) {
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "ctl: %s\n", err.msg);
        return 2;
    }
    if (argc < 2) {
        fprintf(stderr, "ctl: no command given (see --help)\n");
        cm_config_free(&table, &cfg);
        return 2;
    }
    fprintf(stderr, "ctl: unknown command '%s' (see --help)\n", argv[1]);
    cm_config_free(&table, &cfg);
    return 2;
}
