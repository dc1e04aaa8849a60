/* sql_main.c — the sqlnode process: parse configuration, then serve (the MySQL server arrives
 * with the protocol issue; until then the process validates its configuration and exits). */
#include "cm_config.h"
#include "cm_log.h"
#include "sql_config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    sql_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cm_err err;
    int rc = cm_config_load(&sql_config_table, &cfg, &argc, argv, &err);
    if (rc == CM_CONFIG_EXIT) {
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "sqlnode: %s\n", err.msg);
        return 2;
    }
    cm_log_set_level((cm_log_level)cfg.log_level);
    CM_INFO("sql", "configuration loaded mysql=%s pd=%s", cfg.mysql_addr, cfg.pd_addrs);
    fprintf(stderr, "sqlnode: configuration is valid; the MySQL server is not built yet\n");
    cm_config_free(&sql_config_table, &cfg);
    return 0;
}
