#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checks qlog JSON-SEQ files (RFC 7464; qlog main schema and QUIC events
drafts in /work/shared/reference): every record parses with json.loads,
the header has the required fields, every event has time/name/data with
known names and the fields the tests rely on, times never go backward, and
packet_sent packet numbers increase per packet number space.
Usage: check_qlog.py FILE... ; exit 0 when all are good."""
import json
import sys

EVENTS = {
    "connection_started", "connection_closed", "connection_state_updated",
    "parameters_set", "packet_sent", "packet_received", "packet_dropped",
    "packet_lost", "key_updated", "key_discarded", "recovery_metrics_updated",
}
SPACE = {"initial": "initial", "handshake": "handshake", "1RTT": "app", "0RTT": "app"}


def fail(path, msg):
    print(f"{path}: {msg}", file=sys.stderr)
    sys.exit(1)


def check(path):
    data = open(path, "rb").read()
    if not data.startswith(b"\x1e"):
        fail(path, "does not start with RS")
    records = data.split(b"\x1e")[1:]
    if len(records) < 2:
        fail(path, "no events")
    objs = []
    for i, r in enumerate(records):
        if not r.endswith(b"\n"):
            fail(path, f"record {i} does not end with LF")
        try:
            objs.append(json.loads(r.decode("utf-8")))
        except ValueError as e:
            fail(path, f"record {i}: {e}: {r[:200]!r}")
    hdr = objs[0]
    if hdr.get("file_schema") != "urn:ietf:params:qlog:file:sequential":
        fail(path, "file_schema")
    if hdr.get("serialization_format") != "application/qlog+json-seq":
        fail(path, "serialization_format")
    tr = hdr.get("trace", {})
    if tr.get("vantage_point", {}).get("type") not in ("client", "server"):
        fail(path, "vantage_point")
    cf = tr.get("common_fields", {})
    odcid = cf.get("ODCID", "")
    if not odcid or not path.endswith(odcid + ".sqlog"):
        fail(path, "ODCID does not name the file")
    if cf.get("reference_time", {}).get("clock_type") != "monotonic":
        fail(path, "reference_time")
    if not tr.get("event_schemas"):
        fail(path, "event_schemas")
    last_pn = {}
    last_t = 0.0
    names = set()
    for ev in objs[1:]:
        for k in ("time", "name", "data"):
            if k not in ev:
                fail(path, f"event without {k}: {ev}")
        if not ev["name"].startswith("quic:") or ev["name"][5:] not in EVENTS:
            fail(path, f"unknown event {ev['name']}")
        if ev["time"] < last_t:
            fail(path, f"time goes back at {ev}")
        last_t = ev["time"]
        name = ev["name"][5:]
        names.add(name)
        d = ev["data"]
        if name == "packet_sent":
            h = d["header"]
            sp = SPACE[h["packet_type"]]
            pn = h["packet_number"]
            if not isinstance(pn, int) or pn <= last_pn.get(sp, -1):
                fail(path, f"packet_sent pn {pn} not increasing in {sp}")
            last_pn[sp] = pn
            if d["raw"]["length"] <= 0 or not isinstance(d.get("frames"), list):
                fail(path, "packet_sent raw/frames")
            for f in d["frames"]:
                if "frame_type" not in f:
                    fail(path, f"frame without frame_type {f}")
        if name == "packet_received" and "packet_number" not in d["header"]:
            fail(path, "packet_received without packet_number")
        if name in ("key_updated", "key_discarded"):
            if set(d) - {"key_type", "key_phase", "trigger"}:
                fail(path, f"key event with more than its type: {d}")
        if name == "packet_dropped" and "trigger" not in d:
            fail(path, "packet_dropped without trigger")
    for need in ("connection_started", "parameters_set", "packet_sent", "packet_received",
                 "recovery_metrics_updated", "key_updated", "key_discarded",
                 "connection_state_updated", "connection_closed"):
        if need not in names:
            fail(path, f"no {need} event")
    return len(objs)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for p in sys.argv[1:]:
        n = check(p)
        print(f"{p}: {n} records ok")
