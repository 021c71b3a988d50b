#!/usr/bin/env python3
"""Checks a qburst --stats-json file against BRIEF §10's schema.

usage: check_json.py FILE MODE WORKERS [EXPR...]
Each EXPR is a python expression over the first port's fields and the
top-level ones (e.g. "tx_pkts > 0", "tx_bytes == 64 * tx_pkts").
"""
import json
import sys

path, mode, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path) as f:
    j = json.load(f)
top = {"schema", "mode", "duration_s", "workers", "crypto", "ports"}
assert set(j) in (top, top | {"quic"}), f"top-level keys {sorted(j)}"
assert j["schema"] == 1, j["schema"]
assert j["mode"] == mode, j["mode"]
assert j["workers"] == workers, j["workers"]
assert set(j["crypto"]) == {"backend", "arch"}, j["crypto"]
assert j["crypto"]["backend"] in ("boringssl", "ipsecmb"), j["crypto"]
assert isinstance(j["crypto"]["arch"], str) and j["crypto"]["arch"], j["crypto"]
assert isinstance(j["duration_s"], (int, float)) and j["duration_s"] > 0
assert len(j["ports"]) == 1
p = j["ports"][0]
keys = {"port", "rx_pkts", "tx_pkts", "rx_bytes", "tx_bytes", "rx_pps", "tx_pps",
        "tx_bps", "drops"}
assert set(p) == keys, f"port keys {sorted(p)}"
assert p["port"] == 0
for k in keys - {"drops"}:
    assert isinstance(p[k], (int, float)) and p[k] >= 0, (k, p[k])
assert isinstance(p["drops"], dict)
for k, v in p["drops"].items():
    assert isinstance(k, str) and isinstance(v, int) and v >= 0, (k, v)
env = dict(p)
env.update({k: v for k, v in j.items() if k != "ports"})
env["drops_total"] = sum(p["drops"].values())
for e in sys.argv[4:]:
    if not eval(e, {}, env):
        sys.exit(f"check_json: {e} is false: {json.dumps(j)}")
print(f"check_json: ok ({mode}: tx_pkts={p['tx_pkts']} rx_pkts={p['rx_pkts']}"
      f" duration_s={j['duration_s']})")
