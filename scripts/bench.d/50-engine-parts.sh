#!/usr/bin/env bash
# Per-packet costs of the building blocks on one CPU: the driver's header,
# checksum and parse paths, recovery + congestion control per packet, and the
# stream buffers against a memcpy baseline measured in the same run.
set -euo pipefail
taskset -c 1 build/tests/unit/net/bench_net
taskset -c 1 build/tests/unit/recovery/bench_recovery
taskset -c 1 build/tests/unit/stream/bench_stream "${STREAM_ITERS:-1000000}"
