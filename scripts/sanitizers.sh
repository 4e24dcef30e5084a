#!/usr/bin/env bash
# The C API under sanitizers (issue 6), the full version. `cargo test --test
# c_misuse` runs a quick version of the same in CI.
#
#   scripts/sanitizers.sh              everything below except --tsan-rust
#   scripts/sanitizers.sh --tsan-rust  also ThreadSanitizer on an
#                                      instrumented libpapo (nightly Rust)
#
# 1. make test-c-asan / test-c-valgrind: the C API test (tests/c/test_api.c)
#    under AddressSanitizer + UBSan, then Valgrind memcheck.
#    (These use the release library `make` builds, which has no test hooks,
#    so test_api.c's forced-panic checks are compiled out there.)
# 2. tests/c/test_misuse.c "misuse" (NULL arguments, double disconnects,
#    Desconecta_cliente inside the wake-up callback, calls after the server
#    is gone, invalid UTF-8, over-long strings, a forced panic = 16, the
#    password and TLS settings with an openssl-made certificate,
#    Desconecta_Servidor while clients are mid-send and mid-transfer) under
#    ASan + UBSan + LeakSanitizer, and under Valgrind (definite leaks and
#    memory errors fail). test_misuse.c is linked against a release libpapo
#    built with the cargo feature `test-hooks` (papo_debug_force_panic) in
#    ${CARGO_TARGET_DIR:-target}/test-hooks, and compiled with
#    -DPAPO_TEST_HOOKS.
# 3. "threads": 8 threads sending, polling and disconnecting on shared
#    handles, 2000 operations each, under ThreadSanitizer. libpapo is built
#    by stable Rust without instrumentation, so TSan checks the C side only
#    (tests/c/tsan-libpapo.supp says why and what is suppressed).
# 4. "exit" 100 times (and 20 times under ASan): returning from main while
#    the library's threads run must exit 0.
# 5. --tsan-rust: libpapo and Rust's std rebuilt with -Zsanitizer=thread
#    (needs the nightly toolchain with rust-src:
#    `rustup component add rust-src --toolchain nightly`), then "threads" and
#    "misuse" under TSan with NO suppressions: races inside the library are
#    seen too. GCC's libtsan lacks three entry points LLVM's instrumentation
#    calls; tests/c/tsan_shims.c provides them.
set -euo pipefail
cd "$(dirname "$0")/.."

TSAN_RUST=0
for arg in "$@"; do
    case "$arg" in
        --tsan-rust) TSAN_RUST=1 ;;
        *) echo "usage: $0 [--tsan-rust]" >&2; exit 2 ;;
    esac
done

CC="${CC:-cc}"
STRICT_C="-std=c99 -Wall -Wextra -Wpedantic -Werror"
OUT=build/sanitizers
# The SONAME's number (libpapo.so.<major>), from Cargo.toml's version.
MAJOR=$(sed -n 's/^version *= *"\([0-9]*\)\..*/\1/p' Cargo.toml | head -n 1)
mkdir -p "$OUT"
export RUST_BACKTRACE=0 # the forced panic's backtrace is noise

echo "== make test-c-asan test-c-valgrind (tests/c/test_api.c)"
make -s test-c-asan
make -s test-c-valgrind

# test_misuse.c forces panics inside the library: it needs the test hooks.
echo "== libpapo with the test-hooks feature"
HOOKS_TARGET="${CARGO_TARGET_DIR:-target}/test-hooks"
cargo build --release --lib --features test-hooks --target-dir "$HOOKS_TARGET"
LIB="$PWD/$OUT/hooks-lib"
mkdir -p "$LIB"
cp "$HOOKS_TARGET/release/libpapo.so" "$LIB/libpapo.so.$MAJOR"
cp "$HOOKS_TARGET/release/libpapo.so" "$LIB/libpapo.so"

# A self-signed certificate for 127.0.0.1, for the TLS part of "misuse".
if [ ! -f "$OUT/cert.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth \
        -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
fi
export PAPO_TEST_CERT="$PWD/$OUT/cert.pem" PAPO_TEST_KEY="$PWD/$OUT/key.pem"
build() { # name, extra flags...
    local name="$1"; shift
    # shellcheck disable=SC2086
    "$CC" $STRICT_C -g -fno-omit-frame-pointer -DPAPO_TEST_HOOKS "$@" -Iinclude tests/c/test_misuse.c \
        -o "$OUT/$name" -L"$LIB" -lpapo -pthread -Wl,-rpath,"$LIB"
}

echo "== misuse under ASan + UBSan + LSan"
build misuse_asan -fsanitize=address,undefined
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$OUT/misuse_asan" misuse

echo "== misuse under Valgrind memcheck"
build misuse_plain
valgrind -q --error-exitcode=23 --leak-check=full --show-possibly-lost=no \
    --errors-for-leak-kinds=definite --suppressions=tests/c/valgrind.supp \
    "$OUT/misuse_plain" misuse

echo "== threads under TSan (C side; libpapo not instrumented)"
build misuse_tsan -O1 -fsanitize=thread
PAPO_MISUSE_ITERATIONS=2000 \
TSAN_OPTIONS="suppressions=$PWD/tests/c/tsan-libpapo.supp:halt_on_error=1:exitcode=66" \
    "$OUT/misuse_tsan" threads

echo "== exit while library threads run: 100 times, and 20 under ASan"
for i in $(seq 100); do
    "$OUT/misuse_plain" exit || { echo "exit run $i failed: $?" >&2; exit 1; }
done
for i in $(seq 20); do
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 "$OUT/misuse_asan" exit \
        || { echo "ASan exit run $i failed: $?" >&2; exit 1; }
done
echo "exit: 120 runs, all exited 0"

if [ "$TSAN_RUST" = 1 ]; then
    echo "== threads and misuse under TSan, libpapo and std instrumented (nightly)"
    TARGET=x86_64-unknown-linux-gnu
    RUSTFLAGS="-Zsanitizer=thread" cargo +nightly build -Zbuild-std --target "$TARGET" \
        --lib --features test-hooks --target-dir target/tsan
    TLIB="$PWD/$OUT/tsan-lib"
    mkdir -p "$TLIB"
    cp target/tsan/$TARGET/debug/libpapo.so "$TLIB/libpapo.so.$MAJOR"
    cp target/tsan/$TARGET/debug/libpapo.so "$TLIB/libpapo.so"
    # shellcheck disable=SC2086
    "$CC" $STRICT_C -g -O1 -fsanitize=thread -rdynamic -DPAPO_TEST_HOOKS -Iinclude tests/c/test_misuse.c \
        tests/c/tsan_shims.c -o "$OUT/misuse_tsan_rust" -L"$TLIB" -lpapo -pthread \
        -Wl,-rpath,"$TLIB"
    PAPO_MISUSE_ITERATIONS=1000 TSAN_OPTIONS="halt_on_error=1:exitcode=66" \
        "$OUT/misuse_tsan_rust" threads
    TSAN_OPTIONS="halt_on_error=1:exitcode=66" "$OUT/misuse_tsan_rust" misuse
fi

echo "sanitizers.sh: all passed"
