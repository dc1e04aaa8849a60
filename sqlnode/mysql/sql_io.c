/* sql_io.c — socket and memory transports (see sql_io.h). */
#include "sql_io.h"

#include "cm_err.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- socket ---- */

/* Waits until fd is readable (1), timeout (0) or error (<0). */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n > 0) {
            return 1;
        }
        if (n == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return CM_E_IO;
        }
    }
}

static long sock_read(sql_io *io, void *buf, size_t n, int timeout_ms)
{
    int w = wait_fd(io->fd, POLLIN, timeout_ms);
    if (w == 0) {
        return CM_E_TIMEOUT;
    }
    if (w < 0) {
        return w;
    }
    for (;;) {
        ssize_t got = recv(io->fd, buf, n, 0);
        if (got >= 0) {
            return (long)got;
        }
        if (errno == EINTR) {
            continue;
        }
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? CM_E_TIMEOUT : CM_E_IO;
    }
}

static int sock_write(sql_io *io, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t put = send(io->fd, p, n, MSG_NOSIGNAL);
        if (put < 0) {
            if (errno == EINTR) {
                continue;
            }
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? CM_E_TIMEOUT : CM_E_IO;
        }
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

static void sock_close(sql_io *io)
{
    if (io->fd >= 0) {
        close(io->fd);
        io->fd = -1;
    }
}

static const sql_io_ops sock_ops = {sock_read, sock_write, sock_close};

static void set_timeout(int fd, int opt, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

void sql_io_socket_init(sql_io_socket *s, int fd, int read_timeout_ms, int write_timeout_ms)
{
    memset(s, 0, sizeof(*s));
    s->io.ops = &sock_ops;
    s->io.fd = fd;
    s->write_timeout_ms = write_timeout_ms;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (read_timeout_ms > 0) {
        set_timeout(fd, SO_RCVTIMEO, read_timeout_ms);
    }
    if (write_timeout_ms > 0) {
        set_timeout(fd, SO_SNDTIMEO, write_timeout_ms);
    }
}

/* ---- memory ---- */

static long mem_read(sql_io *io, void *buf, size_t n, int timeout_ms)
{
    (void)timeout_ms;
    sql_io_mem *m = (sql_io_mem *)io;
    size_t left = m->in_len - m->in_pos;
    if (left == 0) {
        return 0;
    }
    if (n > left) {
        n = left;
    }
    if (m->max_read > 0 && n > m->max_read) {
        n = m->max_read;
    }
    memcpy(buf, m->in + m->in_pos, n);
    m->in_pos += n;
    return (long)n;
}

static int mem_write(sql_io *io, const void *buf, size_t n)
{
    sql_io_mem *m = (sql_io_mem *)io;
    m->out_total += n;
    if (m->discard) {
        return 0;
    }
    return cm_buf_append(&m->out, buf, n) == 0 ? 0 : CM_E_IO;
}

static void mem_close(sql_io *io)
{
    (void)io;
}

static const sql_io_ops mem_ops = {mem_read, mem_write, mem_close};

void sql_io_mem_init(sql_io_mem *m, const void *in, size_t in_len)
{
    memset(m, 0, sizeof(*m));
    m->io.ops = &mem_ops;
    m->io.fd = -1;
    m->in = in;
    m->in_len = in_len;
    cm_buf_init(&m->out);
}

void sql_io_mem_fini(sql_io_mem *m)
{
    cm_buf_fini(&m->out);
}
