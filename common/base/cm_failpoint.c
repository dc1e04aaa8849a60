/* cm_failpoint.c — see cm_failpoint.h. */
#include "cm_failpoint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP_MAX      64
#define FP_NAME_MAX 64

#ifdef CM_FAILPOINTS
typedef struct fp_ent {
    char name[FP_NAME_MAX];
    int64_t v;
} fp_ent;

static pthread_mutex_t fp_mu = PTHREAD_MUTEX_INITIALIZER;
static fp_ent fp_tab[FP_MAX];
static int fp_n;
static bool fp_env_read;

static int set_locked(const char *name, int64_t v)
{
    if (strlen(name) >= FP_NAME_MAX) {
        return -1;
    }
    for (int i = 0; i < fp_n; i++) {
        if (strcmp(fp_tab[i].name, name) == 0) {
            fp_tab[i].v = v;
            return 0;
        }
    }
    if (fp_n == FP_MAX) {
        return -1;
    }
    snprintf(fp_tab[fp_n].name, FP_NAME_MAX, "%s", name);
    fp_tab[fp_n].v = v;
    fp_n++;
    return 0;
}

/* TESSERA_FAILPOINTS="a=1,b=2" (mu held). */
static void read_env_locked(void)
{
    if (fp_env_read) {
        return;
    }
    fp_env_read = true;
    const char *e = getenv("TESSERA_FAILPOINTS");
    while (e != NULL && *e != '\0') {
        size_t len = strcspn(e, ",");
        char item[FP_NAME_MAX + 32];
        if (len < sizeof(item)) {
            memcpy(item, e, len);
            item[len] = '\0';
            char *eq = strchr(item, '=');
            if (eq != NULL) {
                *eq = '\0';
                set_locked(item, strtoll(eq + 1, NULL, 10));
            }
        }
        e += len;
        if (*e == ',') {
            e++;
        }
    }
}

bool cm_fp_enabled(void)
{
    return true;
}

int cm_fp_set(const char *name, int64_t v)
{
    pthread_mutex_lock(&fp_mu);
    read_env_locked();
    int rc = set_locked(name, v);
    pthread_mutex_unlock(&fp_mu);
    return rc;
}

int64_t cm_fp_get(const char *name)
{
    int64_t v = 0;
    pthread_mutex_lock(&fp_mu);
    read_env_locked();
    for (int i = 0; i < fp_n; i++) {
        if (strcmp(fp_tab[i].name, name) == 0) {
            v = fp_tab[i].v;
            break;
        }
    }
    pthread_mutex_unlock(&fp_mu);
    return v;
}
#else
bool cm_fp_enabled(void)
{
    return false;
}

int cm_fp_set(const char *name, int64_t v)
{
    (void)name;
    (void)v;
    return -1;
}

int64_t cm_fp_get(const char *name)
{
    (void)name;
    return 0;
}
#endif
