#!/usr/bin/env bash
# Build the fuzz target over gw_wire.c and run it for a bounded time.
#
#   gateway/src/fuzz/run.sh [SECONDS] [BUILD_DIR]      (defaults: 60, /tmp/mod_gateway-fuzz)
#   FUZZ_ENGINE=standalone gateway/src/fuzz/run.sh ... (force the gcc driver)
#   gateway/src/fuzz/run.sh replay FILE...             (run single inputs, e.g. a crash-* artifact)
#
# With clang's libFuzzer (clang, or clang-14 + libclang-rt-14-dev) the target is built with
# -fsanitize=fuzzer,address,undefined; otherwise standalone.c drives it (corpus replay and
# random mutation) under -fsanitize=address,undefined with any C compiler that has them.
# New inputs go to BUILD_DIR/corpus (the seed corpus in the repo is read, never written);
# a crashing input goes to BUILD_DIR/artifacts/crash-* and the exit status is non-zero.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
MODE=run
if [ "${1:-}" = replay ]; then MODE=replay; shift; fi
SECONDS_BUDGET=60
if [ "$MODE" = run ]; then SECONDS_BUDGET=${1:-60}; shift || true; fi
if [ "$MODE" = run ]; then
  BUILD=${FUZZ_BUILD:-${1:-/tmp/mod_gateway-fuzz}}
  [ $# -gt 0 ] && shift || true
else
  BUILD=${FUZZ_BUILD:-/tmp/mod_gateway-fuzz}
fi
mkdir -p "$BUILD/corpus" "$BUILD/artifacts"

CFLAGS="-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -I$SRC"
engine=${FUZZ_ENGINE:-}
cc_fuzzer=""
if [ -z "$engine" ] || [ "$engine" = libfuzzer ]; then
  for c in clang clang-19 clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null 2>&1 && echo 'int LLVMFuzzerTestOneInput(const char*d,long n){return 0;}' \
        | "$c" -x c -fsanitize=fuzzer -o "$BUILD/.probe" - >/dev/null 2>&1; then
      cc_fuzzer=$c; break
    fi
  done
  if [ -n "$cc_fuzzer" ]; then engine=libfuzzer
  elif [ "$engine" = libfuzzer ]; then echo "run.sh: no clang with libFuzzer found" >&2; exit 2
  else engine=standalone; fi
fi

BIN="$BUILD/fuzz_wire_$engine"
if [ "$engine" = libfuzzer ]; then
  "$cc_fuzzer" $CFLAGS -fsanitize=fuzzer,address,undefined -o "$BIN" "$HERE/fuzz_wire.c" "$SRC/gw_wire.c"
else
  CC=${CC:-cc}
  "$CC" $CFLAGS -fsanitize=address,undefined -o "$BIN" "$HERE/fuzz_wire.c" "$HERE/standalone.c" "$SRC/gw_wire.c"
fi
echo "engine: $engine ($BIN)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "$MODE" = replay ]; then
  if [ "$engine" = libfuzzer ]; then exec "$BIN" "$@"; else exec "$BIN" -runs=0 "$@"; fi
fi
exec "$BIN" -max_total_time="$SECONDS_BUDGET" -artifact_prefix="$BUILD/artifacts/" -print_final_stats=1 \
  -max_len=65536 -timeout=10 -rss_limit_mb=1024 "$BUILD/corpus" "$HERE/corpus"
