#!/usr/bin/env python3
"""adproxy: an LDAPS proxy that gives Samba's answers Active Directory's limits.

Samba is more lenient than AD, which would hide client bugs. Between a client and
Samba's LDAPS port this proxy imposes:

  MaxPageSize (--max-page, AD default 1000)
    * a paged-results control (1.2.840.113556.1.4.319, RFC 2696) asking for more
      than MaxPageSize is rewritten to ask for MaxPageSize;
    * a search without that control returns at most MaxPageSize entries and then
      SearchResultDone with sizeLimitExceeded (4), as AD does; the rest of
      Samba's answer is abandoned upstream and discarded.
  MaxValRange (--max-range, AD default 1500)
    * an attribute with more than MaxValRange values in a SearchResultEntry is
      returned as "attr;range=0-1499" with the first 1500 values (MS-ADTS
      3.1.1.3.1.3.3, range retrieval). Samba answers the follow-up
      "member;range=1500-*" itself; if that answer again holds more than
      MaxValRange values, it is cut to "member;range=1500-2999", and so on.

Fault injection for tests:
  --drop-after-entries N   close the client connection (TCP FIN, no TLS
                           close_notify) once N entries were sent on it
  --drop-once              ... only on the first connection that reaches N
  --drop-after-ranged N    close the client connection right after the Nth entry
                           cut into ranges was sent on it: the client's ranged
                           read of that entry then meets a closed connection
  --referral               a search whose base DN contains OU=Elsewhere is
                           answered by the proxy with SearchResultDone
                           resultCode referral (10) and --referral-uri
  --deny-base TEXT         a search whose base DN contains TEXT (any case) is
                           answered insufficientAccessRights (50), as AD
                           answers a bind account that may not read there
  --hide-base TEXT         ... answered success with no entries, as AD
                           answers one that may not list what is there

Everything else passes through untouched. After a SASL bind that installs a
security layer (GSSAPI with sign/seal) the stream is no longer plain LDAP; the
proxy then relays bytes without looking (use -O maxssf=0 over LDAPS, as
dualsync does, to keep the limits).

    adproxy.py --listen 127.0.0.1:6360 --cert proxy-cert.pem --key proxy-key.pem \\
               --ca ca.pem [--upstream-host 127.0.0.1 --upstream-port 636] \\
               [--max-page 1000] [--max-range 1500] [--pidfile F]

Loopback only: --listen and --upstream-host must be loopback addresses.
Standard library only.
"""

import argparse
import ipaddress
import os
import select
import selectors
import signal
import socket
import ssl
import sys
import threading
import time

PAGED_OID = b"1.2.840.113556.1.4.319"

# LDAP protocolOp tags (RFC 4511, [APPLICATION n], constructed unless noted)
OP_BIND_RESPONSE = 0x61
OP_SEARCH_REQUEST = 0x63
OP_SEARCH_ENTRY = 0x64
OP_SEARCH_DONE = 0x65
OP_SEARCH_REFERENCE = 0x73
OP_ABANDON = 0x50        # primitive
RC_SIZE_LIMIT_EXCEEDED = 4
RC_REFERRAL = 10
RC_INSUFFICIENT_ACCESS = 50


# ------------------------------------------------------------------ BER codec
# Only what LDAP needs: definite lengths, low tag numbers (LDAP never uses
# high-tag-number form), INTEGER/ENUMERATED, OCTET STRING, SEQUENCE/SET.

class BerError(Exception):
    pass


def ber_header(buf, off, end=None):
    """Parse the tag and length at buf[off:]. Return (tag, content_start, content_end),
    or None when buf does not yet hold the whole TLV. Raises BerError on bad input."""
    if end is None:
        end = len(buf)
    if off + 2 > end:
        return None
    tag = buf[off]
    if tag & 0x1F == 0x1F:
        raise BerError("high tag number form not used by LDAP")
    first = buf[off + 1]
    p = off + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise BerError("indefinite length not allowed in LDAP")
    else:
        n = first & 0x7F
        if n > 4:
            raise BerError("length of %d bytes" % n)
        if p + n > end:
            return None
        length = int.from_bytes(buf[p:p + n], "big")
        p += n
    if p + length > end:
        return None
    return tag, p, p + length


def ber_need(buf, off, end=None):
    h = ber_header(buf, off, end)
    if h is None:
        raise BerError("truncated element")
    return h


def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + ber_len(len(content)) + content


def ber_int(n, tag=0x02):
    length = max(1, (n.bit_length() + 8) // 8)     # room for the sign bit
    return tlv(tag, n.to_bytes(length, "big", signed=True))


def int_value(b):
    return int.from_bytes(b, "big", signed=True)


def children(buf, start, end):
    """Yield (tag, content_start, content_end, element_start, element_end) of each child."""
    off = start
    while off < end:
        tag, cs, ce = ber_need(buf, off, end)
        yield tag, cs, ce, off, ce
        off = ce


def ldap_result(msgid, op, code, diag=b"", referral=None):
    body = ber_int(code, 0x0A) + tlv(0x04, b"") + tlv(0x04, diag)
    if referral:
        body += tlv(0xA3, b"".join(tlv(0x04, u) for u in referral))
    return tlv(0x30, ber_int(msgid) + tlv(op, body))


class Message:
    """One LDAPMessage: messageID, protocolOp (tag + raw element), controls (raw elements)."""
    __slots__ = ("raw", "msgid", "op", "op_start", "op_cs", "op_ce", "ctrl_elems")

    def __init__(self, raw):
        self.raw = raw
        tag, cs, ce = ber_need(raw, 0)
        if tag != 0x30 or ce != len(raw):
            raise BerError("not an LDAPMessage")
        t, s, e = ber_need(raw, cs, ce)
        if t != 0x02:
            raise BerError("messageID is not an INTEGER")
        self.msgid = int_value(raw[s:e])
        self.op_start = e
        self.op, self.op_cs, self.op_ce = ber_need(raw, e, ce)
        self.ctrl_elems = None
        if self.op_ce < ce:
            t, s, e = ber_need(raw, self.op_ce, ce)
            if t == 0xA0:
                self.ctrl_elems = [raw[es:ee] for _, _, _, es, ee in children(raw, s, e)]

    def rebuild(self, op_elem=None, ctrl_elems=None):
        op_elem = op_elem if op_elem is not None else self.raw[self.op_start:self.op_ce]
        ctrls = ctrl_elems if ctrl_elems is not None else self.ctrl_elems
        body = ber_int(self.msgid) + op_elem
        if ctrls is not None:
            body += tlv(0xA0, b"".join(ctrls))
        return tlv(0x30, body)


def parse_control(elem):
    """Control ::= SEQUENCE { controlType, criticality BOOLEAN DEFAULT FALSE, controlValue OCTET STRING OPTIONAL }"""
    _, cs, ce = ber_need(elem, 0)
    oid, critical, value = None, False, None
    for tag, s, e, _, _ in children(elem, cs, ce):
        if tag == 0x04 and oid is None:
            oid = bytes(elem[s:e])
        elif tag == 0x01:
            critical = e > s and elem[s] != 0
        elif tag == 0x04:
            value = bytes(elem[s:e])
    return oid, critical, value


def make_control(oid, critical, value):
    body = tlv(0x04, oid)
    if critical:
        body += tlv(0x01, b"\xff")
    if value is not None:
        body += tlv(0x04, value)
    return tlv(0x30, body)


def parse_search_request(msg):
    """Return (baseObject bytes, list of requested attribute descriptions)."""
    raw = msg.raw
    kids = list(children(raw, msg.op_cs, msg.op_ce))
    if len(kids) < 8:
        raise BerError("short SearchRequest")
    base = bytes(raw[kids[0][1]:kids[0][2]])
    attrs = [bytes(raw[s:e]) for _, s, e, _, _ in children(raw, kids[7][1], kids[7][2])]
    return base, attrs


def range_type(typ, count, max_range):
    """New attribute description for an attribute with `count` values, or None to keep it.
    'member' -> 'member;range=0-1499'; 'member;range=1500-*' -> 'member;range=1500-2999'."""
    if count <= max_range:
        return None
    parts = typ.split(b";")
    for i, opt in enumerate(parts[1:], 1):
        if opt.lower().startswith(b"range="):
            low = opt[6:].split(b"-", 1)[0]
            try:
                low = int(low)
            except ValueError:
                return None
            parts[i] = b"range=%d-%d" % (low, low + max_range - 1)
            return b";".join(parts)
    return typ + b";range=0-%d" % (max_range - 1)


def limit_entry(msg, max_range):
    """Apply MaxValRange to a SearchResultEntry. Return the new raw message or None if unchanged."""
    raw = msg.raw
    # an attribute over the limit needs at least 2 bytes per value
    if msg.op_ce - msg.op_cs < 2 * (max_range + 1):
        return None
    kids = list(children(raw, msg.op_cs, msg.op_ce))
    if len(kids) != 2:
        return None
    _, ls, le, _, _ = kids[1]
    new_attrs, changed = [], False
    for _, s, e, es, ee in children(raw, ls, le):
        parts = list(children(raw, s, e))
        if len(parts) == 2 and (parts[1][2] - parts[1][1]) >= 2 * (max_range + 1):
            vals = [(vs, ve) for _, _, _, vs, ve in children(raw, parts[1][1], parts[1][2])]
            typ = bytes(raw[parts[0][1]:parts[0][2]])
            newtyp = range_type(typ, len(vals), max_range)
            if newtyp is not None:
                keep = b"".join(raw[vs:ve] for vs, ve in vals[:max_range])
                new_attrs.append(tlv(0x30, tlv(0x04, newtyp) + tlv(0x31, keep)))
                changed = True
                continue
        new_attrs.append(raw[es:ee])
    if not changed:
        return None
    op = tlv(OP_SEARCH_ENTRY, raw[kids[0][3]:kids[0][4]] + tlv(0x30, b"".join(new_attrs)))
    return msg.rebuild(op_elem=op)


# ------------------------------------------------------------------- proxy

class Options:
    pass


class Stats:
    lock = threading.Lock()
    connections = 0
    drops_done = 0


def log(*a):
    print("adproxy[%d] %s %s" % (os.getpid(), time.strftime("%H:%M:%S"), " ".join(str(x) for x in a)),
          file=sys.stderr, flush=True)


class Connection:
    """One client: TLS from the client, TLS to Samba, one thread, non-blocking sockets."""

    HIGH_WATER = 4 << 20   # stop reading one side while the other has this much unsent

    def __init__(self, opts, client, peer, cid):
        self.o, self.client, self.peer, self.cid = opts, client, peer, cid
        self.upstream = None
        self.inbuf = {}
        self.outbuf = {}
        self.raw_mode = {}
        self.searches = {}       # msgid -> {"paged", "entries", "cut"}
        self.entries_sent = 0
        self.ranged_sent = 0
        self.abandon_id = 2147480000
        self.st = {"searches": 0, "pages_capped": 0, "unpaged_cut": 0, "ranged": 0, "referrals": 0}

    # --- setup
    def run(self):
        try:
            self.setup()
            self.pump()
        except (OSError, ssl.SSLError, BerError) as e:
            log("conn %d: %s: %s" % (self.cid, type(e).__name__, e))
        finally:
            for s in (self.client, self.upstream):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            log("conn %d closed: %d entries sent; %s" % (self.cid, self.entries_sent,
                ", ".join("%s=%d" % kv for kv in self.st.items())))

    def setup(self):
        self.client.settimeout(10)
        if isinstance(self.client, ssl.SSLSocket):
            self.client.do_handshake()
        up = socket.create_connection((self.o.upstream_host, self.o.upstream_port), timeout=10)
        self.upstream = self.o.client_ctx.wrap_socket(up, server_hostname=self.o.upstream_name)
        for s in (self.client, self.upstream):
            s.setblocking(False)
            self.inbuf[s] = bytearray()
            self.outbuf[s] = bytearray()
            self.raw_mode[s] = False

    def other(self, s):
        return self.upstream if s is self.client else self.client

    # --- I/O
    def fill(self, s):
        """Read all that is available. Returns False on EOF."""
        while True:
            try:
                data = s.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return True
            if not data:
                return False
            self.inbuf[s] += data
            if len(self.inbuf[s]) > self.HIGH_WATER:
                return True

    def flush(self, s):
        buf = self.outbuf[s]
        while buf:
            try:
                n = s.send(buf[:65536])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return
            del buf[:n]

    def flush_blocking(self, s, timeout=10):
        deadline = time.monotonic() + timeout
        while self.outbuf[s] and time.monotonic() < deadline:
            self.flush(s)
            if self.outbuf[s]:
                select.select([], [s], [], 0.1)

    def pump(self):
        sel = selectors.DefaultSelector()
        socks = (self.client, self.upstream)
        registered = {}
        while True:
            for s in socks:
                ev = 0
                if len(self.outbuf[self.other(s)]) < self.HIGH_WATER:
                    ev |= selectors.EVENT_READ
                if self.outbuf[s]:
                    ev |= selectors.EVENT_WRITE
                if ev != registered.get(s, 0):
                    if not ev:
                        sel.unregister(s)
                    elif s in registered and registered[s]:
                        sel.modify(s, ev)
                    else:
                        sel.register(s, ev)
                    registered[s] = ev
            # TLS may hold decrypted bytes that select() cannot see
            pending = any(isinstance(s, ssl.SSLSocket) and s.pending() and len(self.outbuf[self.other(s)]) < self.HIGH_WATER for s in socks)
            events = sel.select(0 if pending else 30)
            ready = {key.fileobj for key, mask in events if mask & selectors.EVENT_READ}
            for s in socks:
                if isinstance(s, ssl.SSLSocket) and s.pending():
                    ready.add(s)
            for key, mask in events:
                if mask & selectors.EVENT_WRITE:
                    self.flush(key.fileobj)
            for s in socks:
                if s not in ready or len(self.outbuf[self.other(s)]) >= self.HIGH_WATER:
                    continue
                alive = self.fill(s)
                if not self.process(s):
                    return                  # fault injection closed the connection
                self.flush(self.upstream)
                self.flush(self.client)
                if not alive:
                    self.flush_blocking(self.other(s))
                    return

    # --- LDAP
    def frames(self, s):
        buf = self.inbuf[s]
        while buf:
            if self.raw_mode[s] or buf[0] != 0x30:
                if not self.raw_mode[s]:
                    log("conn %d: %s stream is no longer plain LDAP (SASL security layer?); "
                        "relaying bytes unchanged" % (self.cid, "client" if s is self.client else "upstream"))
                    self.raw_mode[s] = True
                yield None, bytes(buf)
                del buf[:]
                return
            h = ber_header(buf, 0)
            if h is None:
                return
            raw = bytes(buf[:h[2]])
            del buf[:h[2]]
            yield Message(raw), raw

    def process(self, s):
        if s is self.client:
            for msg, raw in self.frames(s):
                out = raw if msg is None else self.from_client(msg)
                if out:
                    self.outbuf[self.upstream] += out
        else:
            for msg, raw in self.frames(s):
                if msg is None:
                    self.outbuf[self.client] += raw
                    continue
                if not self.from_upstream(msg):
                    return False
        return True

    def from_client(self, msg):
        if msg.op == OP_ABANDON:
            self.searches.pop(int_value(msg.raw[msg.op_cs:msg.op_ce]), None)
            return msg.raw
        if msg.op != OP_SEARCH_REQUEST:
            return msg.raw
        self.st["searches"] += 1
        base, _ = parse_search_request(msg)
        if self.o.referral and b"ou=elsewhere" in base.lower():
            self.st["referrals"] += 1
            uri = self.o.referral_uri.replace("{base}", base.decode("utf-8", "replace")).encode()
            self.outbuf[self.client] += ldap_result(msg.msgid, OP_SEARCH_DONE, RC_REFERRAL,
                                                    b"adproxy: referral for " + base, [uri])
            return b""
        for text, code in ((self.o.deny_base, RC_INSUFFICIENT_ACCESS), (self.o.hide_base, 0)):
            if text and text.lower().encode() in base.lower():
                self.st["denied"] = self.st.get("denied", 0) + 1
                self.outbuf[self.client] += ldap_result(msg.msgid, OP_SEARCH_DONE, code,
                                                        b"adproxy: no access to " + base if code else b"")
                return b""
        paged = False
        ctrls = msg.ctrl_elems
        if ctrls:
            new = []
            for elem in ctrls:
                oid, critical, value = parse_control(elem)
                if oid == PAGED_OID and value is not None:
                    paged = True
                    _, cs, ce = ber_need(value, 0)
                    kids = list(children(value, cs, ce))
                    size = int_value(value[kids[0][1]:kids[0][2]])
                    if size > self.o.max_page:
                        self.st["pages_capped"] += 1
                        if self.o.verbose:
                            log("conn %d: msgid %d: page size %d -> %d" % (self.cid, msg.msgid, size, self.o.max_page))
                        value = tlv(0x30, ber_int(self.o.max_page) + value[kids[1][3]:kids[1][4]])
                        elem = make_control(oid, critical, value)
                new.append(elem)
            if paged:
                self.searches[msg.msgid] = {"paged": True, "entries": 0, "cut": False}
                return msg.rebuild(ctrl_elems=new)
        self.searches[msg.msgid] = {"paged": paged, "entries": 0, "cut": False}
        return msg.raw

    def from_upstream(self, msg):
        st = self.searches.get(msg.msgid)
        if st is None:
            self.outbuf[self.client] += msg.raw
            return True
        if st["cut"]:                        # rest of an answer cut at MaxPageSize
            if msg.op == OP_SEARCH_DONE:
                del self.searches[msg.msgid]
            return True
        if msg.op == OP_SEARCH_DONE:
            del self.searches[msg.msgid]
            self.outbuf[self.client] += msg.raw
            return True
        if msg.op != OP_SEARCH_ENTRY:
            self.outbuf[self.client] += msg.raw
            return True
        over_limit = self.o.size_limit is not None and self.entries_sent >= self.o.size_limit
        if over_limit or (not st["paged"] and st["entries"] >= self.o.max_page):
            # AD: an unpaged search stops at MaxPageSize with sizeLimitExceeded;
            # --size-limit: a server-wide cap that even paging cannot get past
            st["cut"] = True
            self.st["unpaged_cut"] += 1
            if self.o.verbose:
                log("conn %d: msgid %d: unpaged search cut at %d entries" % (self.cid, msg.msgid, st["entries"]))
            self.outbuf[self.client] += ldap_result(
                msg.msgid, OP_SEARCH_DONE, RC_SIZE_LIMIT_EXCEEDED,
                b"adproxy: Size limit exceeded (AD MaxPageSize %d; use the paged results control)"
                % self.o.max_page)
            self.abandon_id += 1
            self.outbuf[self.upstream] += tlv(0x30, ber_int(self.abandon_id) + ber_int(msg.msgid, OP_ABANDON))
            return True
        out = limit_entry(msg, self.o.max_range)
        if out is not None:
            self.st["ranged"] += 1
            self.ranged_sent += 1
        self.outbuf[self.client] += out if out is not None else msg.raw
        st["entries"] += 1
        self.entries_sent += 1
        if (self.o.drop_after is not None and self.entries_sent >= self.o.drop_after) or \
                (self.o.drop_after_ranged is not None and self.ranged_sent >= self.o.drop_after_ranged):
            with Stats.lock:
                drop = not (self.o.drop_once and Stats.drops_done > 0)
                if drop:
                    Stats.drops_done += 1
            if drop:
                self.flush_blocking(self.client)
                log("conn %d: fault injection: dropping the connection after %d entries (%d ranged)"
                    % (self.cid, self.entries_sent, self.ranged_sent))
                try:
                    self.client.shutdown(socket.SHUT_RDWR)   # FIN, no TLS close_notify
                except OSError:
                    pass
                return False
        return True


def loopback(host, what):
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        sys.exit("adproxy: %s %s is not a loopback address; the lab stays on loopback" % (what, host))


def main():
    ap = argparse.ArgumentParser(description="LDAPS proxy that imposes AD's MaxPageSize and MaxValRange on Samba")
    ap.add_argument("--listen", required=True, help="HOST:PORT to listen on (loopback), e.g. 127.0.0.1:6360")
    ap.add_argument("--upstream-host", default="127.0.0.1")
    ap.add_argument("--upstream-port", type=int, default=636)
    ap.add_argument("--upstream-name", help="name to verify in Samba's certificate (default: --upstream-host)")
    ap.add_argument("--cert", help="PEM certificate the proxy presents (required unless --plain)")
    ap.add_argument("--key", help="PEM private key of --cert")
    ap.add_argument("--plain", action="store_true",
                    help="listen for cleartext LDAP (ldap://, lab only): for a client that cannot check "
                         "a certificate (dualsync.exe under Wine); upstream stays LDAPS, verified")
    ap.add_argument("--ca", required=True, help="PEM CA that must have signed Samba's certificate")
    ap.add_argument("--max-page", type=int, default=1000, help="AD MaxPageSize (default 1000)")
    ap.add_argument("--max-range", type=int, default=1500, help="AD MaxValRange (default 1500)")
    ap.add_argument("--drop-after-entries", type=int, dest="drop_after",
                    help="fault: close the client connection after N entries were sent on it")
    ap.add_argument("--drop-once", action="store_true", help="fault: drop only the first connection")
    ap.add_argument("--drop-after-ranged", type=int, dest="drop_after_ranged",
                    help="fault: close the client connection right after the Nth entry cut into ranges")
    ap.add_argument("--referral", action="store_true",
                    help="fault: answer searches under OU=Elsewhere with a referral (resultCode 10)")
    ap.add_argument("--referral-uri", default="ldap://127.0.0.1:9/{base}",
                    help="URI in the referral; {base} is the search base (default points at a closed "
                         "loopback port so a client that chases it goes nowhere)")
    ap.add_argument("--deny-base", metavar="TEXT",
                    help="fault: answer searches whose base DN contains TEXT with insufficientAccessRights (50)")
    ap.add_argument("--hide-base", metavar="TEXT",
                    help="fault: answer searches whose base DN contains TEXT with success and no entries")
    ap.add_argument("--size-limit", type=int, dest="size_limit",
                    help="fault: end any search with sizeLimitExceeded once N entries were sent on the connection")
    ap.add_argument("--pidfile")
    ap.add_argument("--verbose", "-v", action="store_true")
    o = ap.parse_args(namespace=Options())
    host, _, port = o.listen.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        ap.error("--listen wants HOST:PORT")
    loopback(host, "--listen")
    loopback(o.upstream_host, "--upstream-host")
    if o.max_page < 1 or o.max_range < 1:
        ap.error("--max-page and --max-range must be positive")
    o.upstream_name = o.upstream_name or o.upstream_host

    o.client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=o.ca)
    o.client_ctx.check_hostname = True
    o.client_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx = None
    if not o.plain:
        if not o.cert or not o.key:
            ap.error("--cert and --key are required (or --plain)")
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(o.cert, o.key)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, int(port)))
    lsock.listen(64)
    lsock.settimeout(0.5)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if o.pidfile:
        with open(o.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(o.pidfile + ".tmp", o.pidfile)
    log("listening on %s%s:%s -> ldaps://%s:%d (max-page %d, max-range %d%s%s)" % (
        "ldap://" if o.plain else "ldaps://", host, port, o.upstream_host, o.upstream_port, o.max_page, o.max_range,
        ", drop after %d entries%s" % (o.drop_after, " once" if o.drop_once else "") if o.drop_after is not None else "",
        ", referral for OU=Elsewhere" if o.referral else ""))
    cid = 0
    try:
        while not stop.is_set():
            try:
                sock, peer = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                if stop.is_set():
                    break
                raise
            cid += 1
            client = sock if server_ctx is None else \
                server_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            threading.Thread(target=Connection(o, client, peer, cid).run, daemon=True).start()
    finally:
        lsock.close()
        if o.pidfile:
            try:
                with open(o.pidfile) as f:
                    if f.read().strip() == str(os.getpid()):
                        os.unlink(o.pidfile)
            except OSError:
                pass
        log("stopped")


if __name__ == "__main__":
    main()
