/*
 * cm_status.c — the status HTTP server: /metrics (Prometheus text) and /status (JSON).
 *
 * libmicrohttpd parses HTTP; this file only routes. The daemon runs one internal polling thread,
 * so the render and the status callback never run concurrently with each other (a callback
 * needs no lock against itself). We create and bind the listening socket ourselves to report
 * bind errors precisely and to learn the port the kernel chose for port 0. Connections are
 * bounded (CM_STATUS_CONNECTIONS_MAX) and idle ones time out (CM_STATUS_IDLE_TIMEOUT_S).
 */
#include "cm_limits.h"
#include "cm_log.h"
#include "cm_metrics.h"
#include "cm_metrics_int.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Pending connections the kernel queues before libmicrohttpd accepts them. */
#define STATUS_LISTEN_BACKLOG 64

struct cm_status_server {
    struct MHD_Daemon *daemon;
    cm_metrics *m; /* borrowed */
    cm_status_json_cb status_cb;
    void *user; /* borrowed */
    int port;
};

static const char content_type_metrics[] = "text/plain; version=0.0.4; charset=utf-8";
static const char content_type_json[] = "application/json";
static const char content_type_text[] = "text/plain; charset=utf-8";

static int reply_text(cm_status_reply *r, int status, const char *text)
{
    r->http_status = status;
    r->content_type = content_type_text;
    cm_buf_reset(&r->body);
    return cm_buf_append(&r->body, text, strlen(text));
}

int cm_status_route(const char *method, const char *url, cm_metrics *m, cm_status_json_cb status_cb,
                    void *user, cm_status_reply *r)
{
    r->allow = NULL;
    cm_buf_init(&r->body);
    method = method ? method : "";
    url = url ? url : "";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        r->allow = "GET, HEAD";
        return reply_text(r, 405, "method not allowed\n");
    }
    if (strcmp(url, "/metrics") == 0) {
        r->http_status = 200;
        r->content_type = content_type_metrics;
        if (cm_metrics_render(m, &r->body) != 0) {
            return reply_text(r, 500, "metrics: out of memory\n");
        }
        return 0;
    }
    if (strcmp(url, "/status") == 0) {
        r->http_status = 200;
        r->content_type = content_type_json;
        if (status_cb == NULL) {
            return cm_buf_append(&r->body, "{}", 2);
        }
        int rc = status_cb(user, &r->body);
        if (rc != 0) {
            CM_WARN("metrics", "status callback failed: %s", cm_err_name(rc));
            return reply_text(r, 500, "status: callback failed\n");
        }
        return 0;
    }
    return reply_text(r, 404, "not found; try /metrics or /status\n");
}

static enum MHD_Result request_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    cm_status_server *s = cls;
    cm_status_reply r;
    /* Answer on the first call, before any request body is read: no route takes a body, and
     * libmicrohttpd then discards the body (or closes the connection). */
    if (cm_status_route(method, url, s->m, s->status_cb, s->user, &r) != 0) {
        cm_buf_fini(&r.body);
        return MHD_NO; /* out of memory: drop the connection */
    }
    size_t len = 0;
    void *body = cm_buf_detach(&r.body, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result ok =
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
    if (ok == MHD_YES && r.allow != NULL) {
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r.allow);
    }
    if (ok == MHD_YES) {
        ok = MHD_queue_response(conn, (unsigned)r.http_status, resp);
    }
    MHD_destroy_response(resp);
    return ok;
}

/* libmicrohttpd's own diagnostics (malformed requests, accept failures) go to our log. */
static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    CM_WARN("metrics", "http: %s", line);
}

/* Splits "host:port" / "[v6]:port" into host and port strings (host "" means any address). */
static int split_addr(const char *addr, char *host, size_t host_cap, char *port, size_t port_cap,
                      cm_err *err)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        return cm_err_set(err, CM_E_CONFIG, "status address '%s': expected host:port", addr);
    }
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    size_t pl = strlen(colon + 1);
    if (hl >= host_cap || pl == 0 || pl >= port_cap) {
        return cm_err_set(err, CM_E_CONFIG, "status address '%s': bad host or port", addr);
    }
    for (size_t i = 0; i < pl; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9') {
            return cm_err_set(err, CM_E_CONFIG, "status address '%s': port is not a number", addr);
        }
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    if (atol(port) > 65535) {
        return cm_err_set(err, CM_E_CONFIG, "status address '%s': port out of range", addr);
    }
    return 0;
}

/* Creates, binds and listens on a socket for addr; fills *fd_out, *port_out, *v6_out. */
static int listen_on(const char *addr, int *fd_out, int *port_out, int *v6_out, cm_err *err)
{
    char host[CM_ADDR_MAX];
    char port[8];
    int rc = split_addr(addr, host, sizeof(host), port, sizeof(port), err);
    if (rc != 0) {
        return rc;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (gai != 0) {
        return cm_err_set(err, CM_E_CONFIG, "status address '%s': %s", addr, gai_strerror(gai));
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = cm_err_set(err, CM_E_IO, "status server: socket: %s", strerror(errno));
        goto out;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, STATUS_LISTEN_BACKLOG) != 0) {
        rc = cm_err_set(err, CM_E_IO, "status server: bind/listen %s: %s", addr, strerror(errno));
        close(fd);
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = cm_err_set(err, CM_E_IO, "status server: getsockname: %s", strerror(errno));
        close(fd);
        goto out;
    }
    *v6_out = ss.ss_family == AF_INET6;
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
out:
    freeaddrinfo(ai);
    return rc;
}

int cm_status_server_start(const char *addr, cm_metrics *m, cm_status_json_cb status_cb, void *user,
                           cm_status_server **out, cm_err *err)
{
    if (addr == NULL || out == NULL) {
        return cm_err_set(err, CM_E_INVALID, "status server: no address or out pointer");
    }
    *out = NULL;
    cm_status_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "status server: out of memory");
    }
    s->m = m;
    s->status_cb = status_cb;
    s->user = user;
    int fd = -1;
    int v6 = 0;
    int rc = listen_on(addr, &fd, &s->port, &v6, err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    /* The logger comes first, so errors about the later options reach our log too. */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, request_cb, s,          //
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, NULL, //
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,     //
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)CM_STATUS_CONNECTIONS_MAX,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CM_STATUS_IDLE_TIMEOUT_S,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        close(fd);
        free(s);
        return cm_err_set(err, CM_E_IO, "status server: libmicrohttpd failed to start on %s", addr);
    }
    CM_INFO("metrics", "status server listening addr=%s port=%d", addr, s->port);
    *out = s;
    return 0;
}

int cm_status_server_port(const cm_status_server *s)
{
    return s ? s->port : 0;
}

void cm_status_server_stop(cm_status_server *s)
{
    if (s == NULL) {
        return;
    }
    MHD_stop_daemon(s->daemon); /* joins the thread, closes the listening socket */
    free(s);
}
