#!/usr/bin/env python3
# Derives the hand-checked frames used by test_udp.c and test_neigh.c with an
# implementation independent of drivers/net (plain RFC 1071 over big-endian
# words), and writes them to a pcap so tshark can confirm every checksum:
#   python3 gen_vectors.py /tmp/v.pcap && tshark -r /tmp/v.pcap -o ip.check_checksum:TRUE \
#       -o udp.check_checksum:TRUE -V | grep -i 'checksum status'
# With --corpus DIR it writes libFuzzer seeds for fuzz_net_rx instead (a
# selector byte, see tests/fuzz/net/fuzz_net_rx.c, then the frame).
import os
import socket
import struct
import sys

OUR_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000002")
OUR4, PEER4 = socket.inet_aton("198.18.0.1"), socket.inet_aton("198.18.0.2")
OUR6 = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
PEER6 = socket.inet_pton(socket.AF_INET6, "2001:db8::2")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, vlan=0):
    if vlan:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, etype)
    return dst + src + struct.pack("!H", etype)


def udp4(payload, sport=1024, dport=4433):
    ulen = 8 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0x4000, 64, 17, 0, OUR4, PEER4)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    ph = OUR4 + PEER4 + struct.pack("!BBH", 0, 17, ulen)
    u = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(ph + u) or 0xFFFF
    u = u[:6] + struct.pack("!H", c) + u[8:]
    return eth(PEER_MAC, OUR_MAC, 0x0800) + ip + u


def udp6(payload, vlan, sport=1024, dport=4433):
    ulen = 8 + len(payload)
    ip = struct.pack("!IHBB16s16s", 6 << 28, ulen, 17, 64, OUR6, PEER6)
    ph = OUR6 + PEER6 + struct.pack("!IxxxB", ulen, 17)
    u = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(ph + u) or 0xFFFF
    u = u[:6] + struct.pack("!H", c) + u[8:]
    return eth(PEER_MAC, OUR_MAC, 0x86DD, vlan) + ip + u


def arp(op, sha, sip, tha, tip, dst, src):
    a = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, sip, tha, tip)
    f = eth(dst, src, 0x0806) + a
    return f + b"\0" * (60 - len(f))


def icmp6(src, dst, body):
    ph = src + dst + struct.pack("!IxxxB", len(body), 58)
    c = csum(ph + body)
    return body[:2] + struct.pack("!H", c) + body[4:]


def snm(a):
    return bytes.fromhex("ff0200000000000000000001ff") + a[13:]


def ns(src, target, mac):
    dst = snm(target)
    body = struct.pack("!BBHI16s", 135, 0, 0, 0, target) + bytes([1, 1]) + mac
    body = icmp6(src, dst, body)
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(body), 58, 255, src, dst)
    return eth(b"\x33\x33" + dst[12:], mac, 0x86DD) + ip + body


def na(src, dst, dmac, target, mac, flags):
    body = struct.pack("!BBHI16s", 136, 0, 0, flags << 24, target) + bytes([2, 1]) + mac
    body = icmp6(src, dst, body)
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(body), 58, 255, src, dst)
    return eth(dmac, mac, 0x86DD) + ip + body


VECTORS = {
    "udp4_qburst": udp4(b"qburst\n"),
    "udp6_vlan100": udp6(b"hello, quic", 100),
    "arp_req_in": arp(1, PEER_MAC, PEER4, b"\0" * 6, OUR4, b"\xff" * 6, PEER_MAC),
    "arp_reply_out": arp(2, OUR_MAC, OUR4, PEER_MAC, PEER4, PEER_MAC, OUR_MAC),
    "arp_req_ours": arp(1, OUR_MAC, OUR4, b"\0" * 6, PEER4, b"\xff" * 6, OUR_MAC),
    "ns_in": ns(PEER6, OUR6, PEER_MAC),
    "na_out": na(OUR6, PEER6, PEER_MAC, OUR6, OUR_MAC, 0x60),
    "ns_ours": ns(OUR6, PEER6, OUR_MAC),
}


def c_array(name, b):
    out = "static const uint8_t %s[%d] __attribute__((unused)) = {\n" % (name, len(b))
    for i in range(0, len(b), 12):
        out += "\t" + ", ".join("0x%02x" % x for x in b[i : i + 12]) + ",\n"
    return out + "};\n"


def write_corpus(d):
    os.makedirs(d, exist_ok=True)
    for k, v in VECTORS.items():
        for sel in (0x00, 0x10, 0x51, 0x70):
            with open(os.path.join(d, "%s_%02x" % (k, sel)), "wb") as f:
                f.write(bytes([sel]) + v)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--corpus":
        write_corpus(sys.argv[2])
        sys.exit(0)
    for k, v in VECTORS.items():
        print(c_array(k, v))
    if len(sys.argv) > 1:
        with open(sys.argv[1], "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for v in VECTORS.values():
                f.write(struct.pack("<IIII", 0, 0, len(v), len(v)) + v)
