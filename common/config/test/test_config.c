/* Unit tests for common/config: defaults, INI files, flags, bounds, help and dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_config.h"
#include "cm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct test_cfg {
    char *addr;
    int64_t workers;
    int64_t cache_bytes;
    int64_t lease_ms;
    int verbose;
    int level;
} test_cfg;

static const cm_cfg_option opts[] = {
    {"addr", CM_CFG_STRING, offsetof(test_cfg, addr), "127.0.0.1:1", 0, 0, NULL, "listen address"},
    {"workers", CM_CFG_INT, offsetof(test_cfg, workers), "4", 1, 64, NULL, "worker threads"},
    {"cache-size", CM_CFG_SIZE, offsetof(test_cfg, cache_bytes), "64M", 0, 1LL << 40, NULL,
     "cache"},
    {"lease", CM_CFG_DURATION, offsetof(test_cfg, lease_ms), "45s", 1000, 3600000, NULL, "lease"},
    {"verbose", CM_CFG_BOOL, offsetof(test_cfg, verbose), "false", 0, 0, NULL, "chatty"},
    {"log-level", CM_CFG_ENUM, offsetof(test_cfg, level), "info", 0, 0, "debug|info|warn", "level"},
};
static const cm_cfg_table table = {"testprog", "a test program", opts, 6};

static int load(test_cfg *c, int argc, char **argv, cm_err *err)
{
    memset(c, 0, sizeof(*c));
    return cm_config_load(&table, c, &argc, argv, err);
}

static void test_defaults(void **state)
{
    (void)state;
    test_cfg c;
    cm_err err;
    char *argv[] = {"p", NULL};
    assert_int_equal(load(&c, 1, argv, &err), 0);
    assert_string_equal(c.addr, "127.0.0.1:1");
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.cache_bytes, 64 * 1024 * 1024);
    assert_int_equal(c.lease_ms, 45000);
    assert_int_equal(c.verbose, 0);
    assert_int_equal(c.level, 1);
    cm_config_free(&table, &c);
}

static void test_flags_override_ini(void **state)
{
    (void)state;
    char path[] = "/tmp/tessera-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *ini = "[server]\naddr = 10.0.0.1:5\nworkers=8\ncache_size = 1G\n";
    assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    test_cfg c;
    cm_err err;
    char *argv[] = {"p",         "--config", path, "--workers=16",     "pos1",
                    "--verbose", "--lease",  "2s", "--log-level=warn", "pos2",
                    NULL};
    int argc = 10;
    memset(&c, 0, sizeof(c));
    assert_int_equal(cm_config_load(&table, &c, &argc, argv, &err), 0);
    assert_string_equal(c.addr, "10.0.0.1:5");
    assert_int_equal(c.workers, 16);
    assert_int_equal(c.cache_bytes, 1024LL * 1024 * 1024);
    assert_int_equal(c.lease_ms, 2000);
    assert_int_equal(c.verbose, 1);
    assert_int_equal(c.level, 2);
    assert_int_equal(argc, 3);
    assert_string_equal(argv[1], "pos1");
    assert_string_equal(argv[2], "pos2");
    cm_config_free(&table, &c);
    unlink(path);
}

static void test_bad_values(void **state)
{
    (void)state;
    test_cfg c;
    cm_err err;
    char *a1[] = {"p", "--workers=0", NULL};
    assert_int_equal(load(&c, 2, a1, &err), CM_E_CONFIG);
    assert_non_null(strstr(err.msg, "workers"));
    cm_config_free(&table, &c);
    char *a2[] = {"p", "--nosuch=1", NULL};
    assert_int_equal(load(&c, 2, a2, &err), CM_E_CONFIG);
    cm_config_free(&table, &c);
    char *a3[] = {"p", "--lease=10parsecs", NULL};
    assert_int_equal(load(&c, 2, a3, &err), CM_E_CONFIG);
    cm_config_free(&table, &c);
    char *a4[] = {"p", "--log-level=loud", NULL};
    assert_int_equal(load(&c, 2, a4, &err), CM_E_CONFIG);
    cm_config_free(&table, &c);
    char *a5[] = {"p", "--workers", NULL};
    assert_int_equal(load(&c, 2, a5, &err), CM_E_CONFIG);
    cm_config_free(&table, &c);
    char *a6[] = {"p", "--config", "/nonexistent/x.ini", NULL};
    assert_int_equal(load(&c, 3, a6, &err), CM_E_CONFIG);
    cm_config_free(&table, &c);
}

static void test_help_and_dump(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_config_print_help(&table, &b);
    cm_buf_terminate(&b);
    assert_non_null(strstr((char *)b.ptr, "--cache-size"));
    assert_non_null(strstr((char *)b.ptr, "debug|info|warn"));
    cm_buf_fini(&b);

    test_cfg c;
    cm_err err;
    char *argv[] = {"p", NULL};
    assert_int_equal(load(&c, 1, argv, &err), 0);
    assert_int_equal(cm_config_dump(&table, &c, 1, &b), 0);
    assert_non_null(strstr((char *)b.ptr, "\"workers\":4"));
    assert_non_null(strstr((char *)b.ptr, "\"log-level\":\"info\""));
    cm_buf_reset(&b);
    assert_int_equal(cm_config_dump(&table, &c, 0, &b), 0);
    assert_non_null(strstr((char *)b.ptr, "lease = 45000\n"));
    cm_buf_fini(&b);
    cm_config_free(&table, &c);
}

static void test_process_start(void **state)
{
    (void)state;
    test_cfg c;
    memset(&c, 0, sizeof(c));
    char *ok[] = {"p", "--log-level=warn", NULL};
    assert_int_equal(cm_config_process_start(&table, &c, 2, ok), -1);
    assert_int_equal(cm_log_level_min, 2); /* "warn" is index 2 of debug|info|warn */
    cm_config_free(&table, &c);
    cm_log_set_level(CM_LOG_INFO);
    char *positional[] = {"p", "stray", NULL};
    assert_int_equal(cm_config_process_start(&table, &c, 2, positional), 2);
    assert_null(c.addr); /* freed on the error path */
    char *bad[] = {"p", "--workers=0", NULL};
    assert_int_equal(cm_config_process_start(&table, &c, 2, bad), 2);
    char *help[] = {"p", "--help", NULL};
    assert_int_equal(cm_config_process_start(&table, &c, 2, help), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_flags_override_ini),
        cmocka_unit_test(test_bad_values),    cmocka_unit_test(test_help_and_dump),
        cmocka_unit_test(test_process_start),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
