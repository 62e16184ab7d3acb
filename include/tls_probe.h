/* tls_probe.h - find out why a TLS connection failed.
 *
 * libldap reports a failed handshake only as "Can't contact LDAP server". After
 * such a failure the reader makes one more connection of its own with OpenSSL,
 * with the same CA file and host name check, to tell the administrator whether
 * the host is unreachable or its certificate is not trusted, and why. It is a
 * diagnosis only: it never makes a connection usable that libldap refused. */
#ifndef DUALSYNC_TLS_PROBE_H
#define DUALSYNC_TLS_PROBE_H

#include "compat.h"

struct strbuf;

enum tls_probe_result {
    TLS_PROBE_OK,            /* handshake and verification succeeded */
    TLS_PROBE_UNREACHABLE,   /* no TCP connection (why says the errno text) */
    TLS_PROBE_UNTRUSTED,     /* the certificate chain or host name did not verify */
    TLS_PROBE_HANDSHAKE,     /* TLS failed for another reason (protocol, not TLS) */
};

/* starttls: send the LDAP StartTLS extended request (RFC 4511 §4.14) first.
 * ca_file NULL means the system store. why receives a one-line explanation. */
enum tls_probe_result tls_probe(const char *host, int port, bool starttls, const char *ca_file,
                                int timeout_s, struct strbuf *why);

#endif
