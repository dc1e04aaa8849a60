/* sql_server.c — listener, connection threads, registry, KILL/PROCESSLIST/STATUS hooks,
 * shutdown. */
#include "sql_server.h"

#include "cm_log.h"
#include "cm_time.h"
#include "sql_conn.h"
#include "sql_io.h"
#include "sql_metrics.h"
#include "sql_my_const.h"
#include "sql_packet.h"
#include "sql_result.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sql_server {
    sql_server_cfg cfg;
    sql_sess_env sess_env;
    sql_conn_env conn_env;
    int listen_fd;
    int port;
    int wake[2];
    uint64_t started_ms;
    uint64_t next_id;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cond;
    sql_conn **conns; /* registered connections */
    uint32_t nconns, cap;
    int threads; /* connection threads alive */
    int max_used;
    int stopping;
};

/* ---- registry ---- */

static int reg_add(sql_server *s, sql_conn *c)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->stopping) {
        rc = CM_E_SERVER_SHUTDOWN;
    } else if (s->nconns == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 64;
        sql_conn **v = realloc(s->conns, cap * sizeof(*v));
        if (v == NULL) {
            rc = CM_E_NOMEM;
        } else {
            s->conns = v;
            s->cap = cap;
        }
    }
    if (rc == 0) {
        s->conns[s->nconns++] = c;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void reg_remove(sql_server *s, sql_conn *c)
{
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < s->nconns; i++) {
        if (s->conns[i] == c) {
            s->conns[i] = s->conns[--s->nconns];
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- session hooks ---- */

static int hook_kill(void *user, sql_sess *self, uint64_t id, int query_only, cm_err *err)
{
    sql_server *s = user;
    int found = 0;
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < s->nconns; i++) {
        if (sql_conn_id(s->conns[i]) == id) {
            if (!sql_sess_may_kill(self, sql_conn_session(s->conns[i]))) {
                pthread_mutex_unlock(&s->mu);
                return cm_err_set(err, CM_E_KILL_DENIED, "You are not owner of thread %llu",
                                  (unsigned long long)id);
            }
            if (sql_conn_session(s->conns[i]) == self) {
                sql_sess_interrupt(self, query_only);
            } else {
                sql_conn_kill(s->conns[i], query_only);
            }
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (!found) {
        return cm_err_set(err, CM_E_NO_SUCH_THREAD, "Unknown thread id: %llu",
                          (unsigned long long)id);
    }
    CM_INFO("sql", "KILL %s%llu by conn=%llu", query_only ? "QUERY " : "", (unsigned long long)id,
            (unsigned long long)sql_sess_id(self));
    return 0;
}

static int hook_processlist(void *user, sql_sess *self, int full, sql_sink *sink, cm_err *err)
{
    (void)self;
    (void)err;
    sql_server *s = user;
    sql_column cols[8];
    static const char *const names[8] = {"Id",      "User", "Host",  "db",
                                         "Command", "Time", "State", "Info"};
    for (int i = 0; i < 8; i++) {
        memset(&cols[i], 0, sizeof(cols[i]));
        cols[i].name = names[i];
        cols[i].name_len = strlen(names[i]);
        if (i == 0 || i == 5) {
            cols[i].type = SQL_TYPE_LONGLONG;
            cols[i].charset = SQL_COLLATION_BINARY;
            cols[i].length = 21;
            cols[i].flags = SQL_FLAG_NUM | SQL_FLAG_BINARY | (i == 0 ? SQL_FLAG_UNSIGNED : 0);
        } else {
            cols[i].type = SQL_TYPE_VAR_STRING;
            cols[i].charset = 46;
            cols[i].length = 256;
            cols[i].decimals = SQL_DECIMALS_NOT_FIXED;
        }
    }
    int rc = sink->columns(sink, cols, 8);
    /* Snapshot under the lock, send afterwards: the sink writes to a socket. */
    pthread_mutex_lock(&s->mu);
    uint32_t n = s->nconns;
    sql_conn_info *info = calloc(n ? n : 1, sizeof(*info));
    for (uint32_t i = 0; info != NULL && i < n; i++) {
        sql_conn_get_info(s->conns[i], full, &info[i]);
    }
    pthread_mutex_unlock(&s->mu);
    if (info == NULL) {
        return rc ? rc : CM_E_NOMEM;
    }
    int see_all = sql_sess_may_see_all(self);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (!see_all && strcmp(info[i].user, sql_sess_user(self)) != 0) {
            continue; /* without PROCESS: only the connections of one's own user */
        }
        sql_value v[8];
        v[0] = sql_value_int((int64_t)info[i].id);
        v[1] = sql_value_text(info[i].user, strlen(info[i].user));
        v[2] = sql_value_text(info[i].host, strlen(info[i].host));
        v[3] = info[i].db[0] ? sql_value_text(info[i].db, strlen(info[i].db)) : sql_value_null();
        v[4] = sql_value_text(info[i].command, strlen(info[i].command));
        v[5] = sql_value_int(info[i].time_s);
        v[6] = strcmp(info[i].command, "Sleep") == 0 ? sql_value_text("", 0)
                                                     : sql_value_text("executing", 9);
        v[7] = info[i].has_info ? sql_value_text(info[i].info, strlen(info[i].info))
                                : sql_value_null();
        rc = sink->row(sink, v, 8);
    }
    free(info);
    return rc;
}

static int threads_running(sql_server *s)
{
    int running = 0;
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < s->nconns; i++) {
        sql_conn_info info;
        sql_conn_get_info(s->conns[i], 0, &info);
        running += strcmp(info.command, "Sleep") != 0;
    }
    pthread_mutex_unlock(&s->mu);
    return running;
}

static sql_conn *find_conn_of(sql_server *s, sql_sess *sess)
{
    for (uint32_t i = 0; i < s->nconns; i++) {
        if (sql_conn_session(s->conns[i]) == sess) {
            return s->conns[i];
        }
    }
    return NULL;
}

static int hook_status(void *user, sql_sess *self, int global, sql_status_emit emit, void *ctx)
{
    sql_server *s = user;
    char buf[128];
#define EMIT_U(name, v)                                                                            \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(v));                               \
        emit(ctx, name, buf);                                                                      \
    } while (0)
    EMIT_U("Aborted_connects", sql_metrics_get(SQL_M_AUTH_FAILURES));
    EMIT_U("Bytes_received", sql_metrics_get(SQL_M_BYTES_IN));
    EMIT_U("Bytes_sent", sql_metrics_get(SQL_M_BYTES_OUT));
    EMIT_U("Connections", sql_metrics_get(SQL_M_CONNECTIONS));
    EMIT_U("Connection_errors_max_connections", sql_metrics_get(SQL_M_REFUSED));
    pthread_mutex_lock(&s->mu);
    int conns = (int)s->nconns, max_used = s->max_used;
    sql_conn *me = find_conn_of(s, self);
    char ssl_version[32] = "", ssl_cipher[128] = "";
    if (me != NULL) {
        snprintf(ssl_version, sizeof(ssl_version), "%s", sql_conn_tls_version(me));
        snprintf(ssl_cipher, sizeof(ssl_cipher), "%s", sql_conn_tls_cipher(me));
    }
    pthread_mutex_unlock(&s->mu);
    EMIT_U("Max_used_connections", max_used);
    EMIT_U("Questions", global ? sql_metrics_get(SQL_M_QUESTIONS) : sql_sess_questions(self));
    emit(ctx, "Ssl_cipher", global ? "" : ssl_cipher);
    emit(ctx, "Ssl_version", global ? "" : ssl_version);
    EMIT_U("Threads_connected", conns);
    EMIT_U("Threads_running", threads_running(s));
    EMIT_U("Uptime", (cm_time_mono_ms() - s->started_ms) / 1000);
    for (int c = 0; c < SQL_COM_MAX; c++) {
        char name[64];
        snprintf(name, sizeof(name), "Com_%s", sql_metrics_command_name((uint8_t)c));
        EMIT_U(name, sql_metrics_command_count((uint8_t)c));
    }
#undef EMIT_U
    return 0;
}

static int hook_statistics(void *user, cm_buf *out)
{
    sql_server *s = user;
    uint64_t up = (cm_time_mono_ms() - s->started_ms) / 1000;
    uint64_t q = sql_metrics_get(SQL_M_QUESTIONS);
    return cm_buf_printf(out,
                         "Uptime: %llu  Threads: %lld  Questions: %llu  Slow queries: 0  Opens: 0  "
                         "Flush tables: 0  Open tables: 0  Queries per second avg: %.3f",
                         (unsigned long long)up, (long long)sql_server_connections(s),
                         (unsigned long long)q, up ? (double)q / (double)up : (double)q);
}

/* ---- connections ---- */

typedef struct conn_start {
    sql_server *s;
    int fd;
    uint64_t id;
    char peer[64];
} conn_start;

static void *conn_main(void *arg)
{
    conn_start *cs = arg;
    sql_server *s = cs->s;
    sql_io_socket sock;
    int64_t wt = sql_sysvars_get_int(s->cfg.globals, SQL_SV_NET_WRITE_TIMEOUT) * 1000;
    int64_t rt = sql_sysvars_get_int(s->cfg.globals, SQL_SV_NET_READ_TIMEOUT) * 1000;
    sql_io_socket_init(&sock, cs->fd, (int)rt, (int)wt);
    sql_conn *c = NULL;
    cm_err err;
    if (sql_conn_create(&s->conn_env, cs->id, &sock.io, cs->peer, &c, &err) != 0) {
        CM_WARN("sql", "connection %llu not served: %s", (unsigned long long)cs->id, err.msg);
        sock.io.ops->close(&sock.io);
    } else if (reg_add(s, c) != 0) {
        sql_conn_free(c);
    } else {
        CM_DEBUG("sql", "connection open conn=%llu peer=%s", (unsigned long long)cs->id, cs->peer);
        sql_conn_serve(c);
        reg_remove(s, c);
        sql_conn_free(c);
        CM_DEBUG("sql", "connection closed conn=%llu", (unsigned long long)cs->id);
    }
    free(cs);
    sql_metrics_open_connections(-1);
    pthread_mutex_lock(&s->mu);
    s->threads--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Refuses a connection with an ERR packet in place of the greeting (MySQL does the same). */
static void refuse(int fd, int code, const char *msg)
{
    sql_io_socket sock;
    sql_io_socket_init(&sock, fd, 1000, 1000);
    sql_pkt p;
    sql_pkt_init(&p, &sock.io, 1000);
    sql_res_err(&p, code, msg);
    sql_pkt_flush(&p);
    sql_pkt_fini(&p);
    sock.io.ops->close(&sock.io);
    sql_metrics_add(SQL_M_REFUSED, 1);
}

static void accept_one(sql_server *s)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
            CM_WARN("sql", "accept failed: %s", strerror(errno));
            cm_time_sleep_ms(10); /* EMFILE and friends: do not spin */
        }
        return;
    }
    char host[48] = "?", port[16] = "0";
    getnameinfo((struct sockaddr *)&sa, salen, host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
    int64_t max = sql_sysvars_get_int(s->cfg.globals, SQL_SV_MAX_CONNECTIONS);
    pthread_mutex_lock(&s->mu);
    int full = s->threads >= max;
    if (!full) {
        s->threads++;
        if (s->threads > s->max_used) {
            s->max_used = s->threads;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (full) {
        refuse(fd, CM_E_TOO_MANY_CONN, "Too many connections");
        return;
    }
    conn_start *cs = calloc(1, sizeof(*cs));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SQL_SRV_THREAD_STACK_BYTES);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int ok = 0;
    if (cs != NULL) {
        cs->s = s;
        cs->fd = fd;
        cs->id = ++s->next_id;
        snprintf(cs->peer, sizeof(cs->peer), "%s:%s", host, port);
        sql_metrics_add(SQL_M_CONNECTIONS, 1);
        sql_metrics_open_connections(1);
        ok = pthread_create(&th, &attr, conn_main, cs) == 0;
        if (!ok) {
            sql_metrics_open_connections(-1);
        }
    }
    pthread_attr_destroy(&attr);
    if (!ok) {
        free(cs);
        pthread_mutex_lock(&s->mu);
        s->threads--;
        pthread_mutex_unlock(&s->mu);
        refuse(fd, CM_E_TOO_MANY_CONN, "Too many connections (no thread)");
    }
}

/* ---- lifecycle ---- */

static int listen_on(const char *addr, int *fd_out, int *port_out, cm_err *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        return cm_err_set(err, CM_E_CONFIG, "mysql-addr '%s' has no port", addr);
    }
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof(host)) {
        return cm_err_set(err, CM_E_CONFIG, "mysql-addr too long");
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *h = host;
    if (h[0] == '[' && hl > 1 && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &res);
    if (g != 0) {
        return cm_err_set(err, CM_E_CONFIG, "mysql-addr '%s': %s", addr, gai_strerror(g));
    }
    int fd = -1;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return cm_err_set(err, CM_E_IO, "cannot listen on %s: %s", addr, strerror(last_errno));
    }
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &salen);
    char port[16];
    getnameinfo((struct sockaddr *)&sa, salen, NULL, 0, port, sizeof(port), NI_NUMERICSERV);
    *fd_out = fd;
    *port_out = atoi(port);
    return 0;
}

void sql_server_set_gc(sql_server *s, sql_gc *gc)
{
    s->sess_env.gc = gc;
}

int sql_server_create(const sql_server_cfg *cfg, sql_server **out, cm_err *err)
{
    *out = NULL;
    sql_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    s->cfg = *cfg;
    s->listen_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->started_ms = cm_time_mono_ms();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->sess_env.globals = cfg->globals;
    s->sess_env.user = s;
    s->sess_env.kill = hook_kill;
    s->sess_env.processlist = hook_processlist;
    s->sess_env.status = hook_status;
    s->sess_env.stmt_cache_size = cfg->stmt_cache_size;
    s->sess_env.kc = cfg->kc;
    s->sess_env.cat = cfg->cat;
    s->sess_env.autocommit_retries = cfg->autocommit_retries;
    s->sess_env.hash_password = sql_auth_hash_password;
    s->conn_env.sess_env = &s->sess_env;
    s->conn_env.auth = cfg->auth;
    s->conn_env.tls = cfg->tls;
    s->conn_env.user = s;
    s->conn_env.statistics = hook_statistics;
    int rc = listen_on(cfg->listen_addr, &s->listen_fd, &s->port, err);
    if (rc == 0 && pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = cm_err_set(err, CM_E_IO, "pipe: %s", strerror(errno));
    }
    if (rc != 0) {
        sql_server_free(s);
        return rc;
    }
    sql_metrics_init();
    *out = s;
    return 0;
}

int sql_server_port(const sql_server *s)
{
    return s->port;
}

void sql_server_wake(sql_server *s)
{
    char b = 1;
    ssize_t w = write(s->wake[1], &b, 1);
    (void)w;
}

int64_t sql_server_connections(sql_server *s)
{
    pthread_mutex_lock(&s->mu);
    int64_t n = s->nconns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void sql_server_run(sql_server *s)
{
    CM_INFO("sql", "serving MySQL on %s port=%d", s->cfg.listen_addr, s->port);
    for (;;) {
        struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        int n = poll(p, 2, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            CM_ERROR("sql", "poll failed: %s", strerror(errno));
            break;
        }
        if (p[1].revents) {
            break;
        }
        if (p[0].revents & POLLIN) {
            accept_one(s);
        }
    }
    /* Shutdown: no new connections; every session is closed (a running statement is
     * interrupted), then the threads are waited for. */
    close(s->listen_fd);
    s->listen_fd = -1;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    uint32_t n = s->nconns;
    for (uint32_t i = 0; i < s->nconns; i++) {
        sql_conn_kill(s->conns[i], 0);
    }
    CM_INFO("sql", "shutting down: closing %u session(s)", n);
    uint64_t deadline = cm_time_mono_ms() + SQL_SRV_SHUTDOWN_WAIT_MS;
    while (s->threads > 0 && cm_time_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
    int left = s->threads;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        CM_WARN("sql", "shutdown: %d connection thread(s) still running after %d ms", left,
                SQL_SRV_SHUTDOWN_WAIT_MS);
    } else {
        CM_INFO("sql", "all sessions closed");
    }
}

void sql_server_free(sql_server *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    int left = s->threads;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        return; /* threads still use it: the process is exiting anyway */
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    free(s->conns);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int sql_server_status_json(sql_server *s, cm_buf *out)
{
    return cm_buf_printf(out,
                         "{\"component\":\"sqlnode\",\"version\":\"%s\",\"mysql_port\":%d,"
                         "\"connections\":%lld,\"uptime_s\":%llu,\"questions\":%llu,"
                         "\"metrics_exported\":%s}",
                         SQL_SERVER_VERSION, s->port, (long long)sql_server_connections(s),
                         (unsigned long long)((cm_time_mono_ms() - s->started_ms) / 1000),
                         (unsigned long long)sql_metrics_get(SQL_M_QUESTIONS),
                         sql_metrics_exported() ? "true" : "false");
}
