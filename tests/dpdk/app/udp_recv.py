#!/usr/bin/env python3
"""A kernel UDP socket that counts datagrams for the namespace tests.

usage: udp_recv.py PORT PAYLOAD_LEN RESULT_JSON READY_FILE
Binds 0.0.0.0:PORT (or [::]:PORT), writes READY_FILE, then counts
datagrams until 2 s pass without one (or 30 s in all), checking each
payload against udpgen's pattern (byte i = 0x20 + i % 95). The kernel
drops datagrams whose UDP checksum is wrong, so every one counted here
arrived with a valid checksum (or, over IPv4, none: tcpdump checks that).
"""
import json
import socket
import sys
import time

port, plen, out, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("::", port))
want = bytes(0x20 + i % 95 for i in range(plen))
open(ready, "w").close()
good = bad = 0
sources = set()
start = time.monotonic()
s.settimeout(30)
while time.monotonic() - start < 30:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        break
    s.settimeout(2)
    if data == want:
        good += 1
    else:
        bad += 1
    sources.add(addr[1])
with open(out, "w") as f:
    json.dump({"good": good, "bad": bad, "sports": len(sources)}, f)
print(f"udp_recv: {good} good, {bad} bad, {len(sources)} source ports")
