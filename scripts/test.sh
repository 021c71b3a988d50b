#!/usr/bin/env bash
# Set-up, build, and every test suite: once in an optimised build (build/)
# and once with ASan+UBSan under clang (build-asan/, which also builds the
# fuzz targets); then the fuzzers for a bounded time and the format check.
# Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

scripts/setup.sh || exit 1

status=0
summary=()
note() { summary+=("$*"); }

run_suites() { # builddir label
	local dir=$1 label=$2
	if meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier 3; then
		note "$label: all suites passed"
	else
		note "$label: FAILURES (see $dir/meson-logs/testlog.txt)"
		status=1
	fi
}

# 1. Optimised build.
if [ ! -f build/build.ninja ]; then
	meson setup build --buildtype=release || exit 1
fi
ninja -C build || exit 1
run_suites build "build (release)"

# 2. ASan + UBSan build with clang, fuzz targets included.
ASAN_OPTS=("-Db_sanitize=address,undefined" -Db_lundef=false -Dfuzz=true)
if [ ! -f build-asan/build.ninja ]; then
	CC=clang meson setup build-asan --buildtype=debugoptimized "${ASAN_OPTS[@]}" || exit 1
else
	# An existing build-asan configured otherwise (by hand, or before an
	# option existed) would pass without sanitizers or fuzzers: fix it.
	asan_conf=$(meson introspect build-asan --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o.get("b_sanitize"), o.get("b_lundef"), o.get("fuzz"))') || exit 1
	if [ "$asan_conf" != "address,undefined False True" ]; then
		echo "build-asan configured as b_sanitize/b_lundef/fuzz = $asan_conf: reconfiguring"
		meson setup --reconfigure build-asan "${ASAN_OPTS[@]}" || exit 1
	fi
fi
ninja -C build-asan || exit 1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
run_suites build-asan "build-asan (ASan+UBSan)"

# 3. Fuzz targets: replay the seed corpus, then fuzz for a bounded time.
fuzz_fail=0
fuzz_count=0
for f in $(find build-asan/tests/fuzz -type f -name 'fuzz_*' -perm -u+x | sort); do
	name=${f##*/fuzz_}
	seeds=$ROOT/tests/fuzz/corpus/$name
	work=$(mktemp -d)
	fuzz_count=$((fuzz_count + 1))
	if "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 -artifact_prefix="$work/" \
		"$work" "$seeds" >"$work.log" 2>&1; then
		echo "fuzz $name: ok ($(grep -c . <(ls "$work")) new inputs)"
	else
		echo "fuzz $name: FAILED"; tail -40 "$work.log"
		fuzz_fail=1
	fi
	rm -rf "$work" "$work.log"
done
if [ $fuzz_count -eq 0 ]; then
	note "fuzz: FAILED: no fuzz target found under build-asan/tests/fuzz"; status=1
elif [ $fuzz_fail -eq 0 ]; then
	note "fuzz: $fuzz_count targets, ${FUZZ_SECONDS}s each, no crash"
else
	note "fuzz: FAILURES"; status=1
fi

# 4. Format.
# The C files: git's list in a clone, else (an exported tree) find's.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z '*.c' '*.h' >/tmp/qb-cfiles.$$
else
	find engine drivers apps tests -type f \( -name '*.c' -o -name '*.h' \) -print0 >/tmp/qb-cfiles.$$
fi
nfiles=$(tr -cd '\0' </tmp/qb-cfiles.$$ | wc -c)
if [ "$nfiles" -eq 0 ]; then
	note "clang-format: FAILED: no C file found to check"; status=1
elif xargs -0 -r clang-format --dry-run --Werror </tmp/qb-cfiles.$$ 2>/tmp/qb-format.$$; then
	note "clang-format: clean ($nfiles files)"
else
	head -40 /tmp/qb-format.$$; note "clang-format: FAILED (run clang-format -i on the files above)"; status=1
fi
rm -f /tmp/qb-format.$$ /tmp/qb-cfiles.$$

# Summary, with one plain closing line counted over both builds.
python3 - "$ROOT" <<'PY'
import json, sys, os
passed = failed = skipped = 0
for d in ("build", "build-asan"):
    p = os.path.join(sys.argv[1], d, "meson-logs", "testlog.json")
    if not os.path.exists(p):
        continue
    for line in open(p):
        r = json.loads(line)["result"]
        if r == "OK": passed += 1
        elif r in ("SKIP",): skipped += 1
        else: failed += 1
print(f"meson tests: {passed} passed, {failed} failed, {skipped} skipped", file=sys.stderr)
open("/tmp/qb-test-counts", "w").write(f"{passed} {failed} {skipped}")
PY
echo "== test.sh summary =="
for s in "${summary[@]}"; do echo "  $s"; done
read -r p f s </tmp/qb-test-counts
[ $status -ne 0 ] && [ "$f" -eq 0 ] && f=1
echo "$p passed, $f failed, $s skipped"
exit $status
