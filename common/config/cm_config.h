/*
 * cm_config.h — configuration as a table of data (Redis's config.c is the model).
 *
 * Each component declares one table of options (name, type, default, bounds, help) over its own
 * config struct. cm_config_load fills the struct from the defaults, then an INI file
 * (`--config FILE`, read with libinih; keys may sit in any section, '-' and '_' are the same),
 * then command-line flags (`--name=value` or `--name value`; a bare `--name` sets a bool).
 * `--help` prints the table. Later sources override earlier ones; every value is checked against
 * its bounds whatever its source.
 */
#ifndef CM_CONFIG_H
#define CM_CONFIG_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cm_cfg_type {
    CM_CFG_BOOL, /* int: 0/1; accepts true/false/on/off/1/0/yes/no */
    CM_CFG_INT,  /* int64_t, within [min, max] */
    CM_CFG_SIZE, /* int64_t bytes; accepts suffixes K, M, G (powers of 1024), within [min, max] */
    CM_CFG_DURATION, /* int64_t milliseconds; accepts suffixes ms, s, m, h; within [min, max] */
    CM_CFG_STRING,   /* char * (owned by the struct, freed by cm_config_free) */
    CM_CFG_ENUM,     /* int: index into `choices` ("a|b|c") */
} cm_cfg_type;

typedef struct cm_cfg_option {
    const char *name; /* flag and INI key, e.g. "status-addr" */
    cm_cfg_type type;
    size_t offset;             /* offsetof(component config struct, field) */
    const char *default_value; /* text, parsed like user input; NULL = empty string */
    int64_t min, max;          /* bounds for INT/SIZE/DURATION (ignored otherwise) */
    const char *choices;       /* ENUM: "trace|debug|info" */
    const char *help;
} cm_cfg_option;

typedef struct cm_cfg_table {
    const char *program; /* "pd" */
    const char *summary; /* one line for --help */
    const cm_cfg_option *options;
    size_t count;
} cm_cfg_table;

/* cm_config_load's result when --help or --version was printed: the caller exits 0. */
#define CM_CONFIG_EXIT 1

/* Fills cfg from defaults, the INI file named by --config, and argv flags (see above).
 * Positional arguments (not starting with "--") are left in place: *argc_inout and argv are
 * compacted to the program name followed by them. Returns 0, CM_CONFIG_EXIT, or CM_E_CONFIG
 * with a message naming the option; on any non-zero return the strings are already freed.
 * `cfg` is borrowed; strings stored in it are owned by it (free with cm_config_free). */
int cm_config_load(const cm_cfg_table *t, void *cfg, int *argc_inout, char **argv, cm_err *err);
/* Sets one option from text, as a flag would. */
int cm_config_set(const cm_cfg_table *t, void *cfg, const char *name, const char *value,
                  cm_err *err);
/* Start-up shared by every process: cm_config_load, then refuses positional arguments and
 * applies the table's "log-level" (ENUM in cm_log_level order) and "log-file" options when it
 * has them. Errors go to stderr prefixed with the program name. Returns -1 when the process
 * should go on, else the status main() should return (0 after --help, 2 on bad configuration);
 * on a non -1 return nothing is left to free. */
int cm_config_process_start(const cm_cfg_table *t, void *cfg, int argc, char **argv);
/* Frees strings held in cfg. */
void cm_config_free(const cm_cfg_table *t, void *cfg);
/* Prints --help text to out. */
void cm_config_print_help(const cm_cfg_table *t, cm_buf *out);
/* Appends "name = value\n" lines (as_json 0) or one JSON object (as_json 1). */
int cm_config_dump(const cm_cfg_table *t, const void *cfg, int as_json, cm_buf *out);
/* Parses a size ("64M") or a duration ("3s") the way the table does. */
int cm_config_parse_size(const char *s, int64_t *out);
int cm_config_parse_duration_ms(const char *s, int64_t *out);

/* A server process's life, shared by pd and kvnode: configuration (cm_config_process_start),
 * SIGTERM/SIGINT blocked in every thread and waited for, SIGPIPE ignored, start, one ready line
 * on stdout, stop on the signal. */
typedef struct cm_daemon {
    const char *component; /* log component and stderr prefix: "pd", "kv" */
    const char *program;   /* "pd", "kvnode" */
    /* Starts the server from cfg; config_json is the effective configuration as JSON. */
    int (*start)(void *cfg, const char *config_json, void **server, cm_err *err);
    void (*print_ready)(void *server, FILE *out);
    void (*stop)(void *server);
} cm_daemon;

/* Runs the process; returns its exit status. cfg: zeroed by the caller, freed here. */
int cm_daemon_main(const cm_daemon *d, const cm_cfg_table *t, void *cfg, int argc, char **argv);

#endif
