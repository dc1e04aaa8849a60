/* pd_main.c — the pd process: parse configuration, then serve (the server arrives with the PD
 * issue; until then the process validates its configuration and exits). */
#include "cm_config.h"
#include "cm_log.h"
#include "pd_config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    pd_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cm_err err;
    int rc = cm_config_load(&pd_config_table, &cfg, &argc, argv, &err);
    if (rc == CM_CONFIG_EXIT) {
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "pd: %s\n", err.msg);
        return 2;
    }
    cm_log_set_level((cm_log_level)cfg.log_level);
    CM_INFO("pd", "configuration loaded name=%s listen=%s data-dir=%s", cfg.name, cfg.listen_addr,
            cfg.data_dir);
    fprintf(stderr, "pd: configuration is valid; the PD server is not built yet\n");
    cm_config_free(&pd_config_table, &cfg);
    return 0;
}
