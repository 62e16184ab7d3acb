#include "compat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_probe.h"
#include "util.h"

static int connect_tcp(const char *host, int port, int timeout_s, struct strbuf *why)
{
    char svc[16];
    snprintf(svc, sizeof(svc), "%d", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    int rc = getaddrinfo(host, svc, &hints, &res);
    if (rc) {
        strbuf_addf(why, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            err = 0;
        else if (errno == EINPROGRESS) {
            struct pollfd p = { fd, POLLOUT, 0 };
            socklen_t len = sizeof(err);
            if (poll(&p, 1, timeout_s * 1000) <= 0)
                err = ETIMEDOUT;
            else
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        } else
            err = errno;
        if (!err) {
            fcntl(fd, F_SETFL, fl);
            struct timeval tv = { timeout_s, 0 };
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        strbuf_addf(why, "%s port %d: %s", host, port, strerror(err ? err : EHOSTUNREACH));
    return fd;
}

/* The ExtendedRequest for StartTLS, message id 1 (RFC 4511 §4.12, §4.14.1). */
static const unsigned char starttls_req[] = {
    0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16,
    '1', '.', '3', '.', '6', '.', '1', '.', '4', '.', '1', '.', '1', '4', '6', '6', '.',
    '2', '0', '0', '3', '7',
};

static bool start_tls(int fd, struct strbuf *why)
{
    if (write(fd, starttls_req, sizeof(starttls_req)) != (ssize_t)sizeof(starttls_req)) {
        strbuf_addf(why, "cannot send StartTLS: %s", strerror(errno));
        return false;
    }
    /* ExtendedResponse: 30 len 02 01 01 78 len 0a 01 <resultCode> ... */
    unsigned char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 10 || buf[0] != 0x30) {
        strbuf_addstr(why, "the server did not answer the StartTLS request");
        return false;
    }
    for (ssize_t i = 2; i + 2 < n; i++)
        if (buf[i] == 0x0a && buf[i + 1] == 0x01) {
            if (buf[i + 2] == 0)
                return true;
            strbuf_addf(why, "the server refused StartTLS (LDAP result %u)", buf[i + 2]);
            return false;
        }
    strbuf_addstr(why, "cannot read the StartTLS answer");
    return false;
}

enum tls_probe_result tls_probe(const char *host, int port, bool starttls, const char *ca_file,
                                int timeout_s, struct strbuf *why)
{
    int fd = connect_tcp(host, port, timeout_s, why);
    if (fd < 0)
        return TLS_PROBE_UNREACHABLE;
    enum tls_probe_result r = TLS_PROBE_HANDSHAKE;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    if (starttls && !start_tls(fd, why))
        goto out;
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        goto out;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        strbuf_addf(why, "cannot load CA file %s", ca_file ? ca_file : "(system)");
        goto out;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    struct in6_addr a6;
    struct in_addr a4;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
        X509_VERIFY_PARAM_set1_ip_asc(vp, host);
    else {
        SSL_set1_host(ssl, host);
        SSL_set_tlsext_host_name(ssl, host);
    }
    if (SSL_connect(ssl) == 1) {
        r = TLS_PROBE_OK;
        goto out;
    }
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
        r = TLS_PROBE_UNTRUSTED;
        strbuf_addstr(why, X509_verify_cert_error_string(v));
    } else {
        char e[256];
        ERR_error_string_n(ERR_peek_last_error(), e, sizeof(e));
        strbuf_addf(why, "TLS handshake failed: %s", e);
    }
out:
    ERR_clear_error();
    if (ssl)
        SSL_free(ssl);
    if (ctx)
        SSL_CTX_free(ctx);
    close(fd);
    return r;
}
