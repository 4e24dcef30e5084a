#!/usr/bin/env bash
# Runs each papo fuzz target for a fixed time budget.
#
#   scripts/fuzz.sh [seconds-per-target]     default 60
#   FUZZ_TARGETS="frame" scripts/fuzz.sh 600  only some targets
#
# Targets (fuzz/fuzz_targets/; the harnesses are in the test-support crate,
# testkit/src/fuzz/, papo_testkit::fuzz):
#   session   the server's rules (papo::server::session, sans-I/O) hosted in
#             memory (papo_testkit::Hub): up to three clients and the clock,
#             driven by a script, played whole and cut into pieces; every line
#             checked, the two runs must agree byte for byte
#   frame     the line/payload frame decoder (LineBuffer) vs a reference model
#   file_name the name-sanitising function of received files (safe_file_name)
#   server    the real server (papo::Server, its I/O threads) over loopback: a
#             connection per input, written in random pieces, half-closed; a
#             control client checks everyone else is served
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain
# (`rustup toolchain install nightly`): libFuzzer instrumentation uses
# nightly-only compiler flags. Everything else in papo builds on stable, and
# `cargo test --test fuzz_smoke` runs the same harnesses on stable over the
# seed corpus plus fixed pseudo-random inputs.
#
# -timeout is 30 s: the server harness gives a server 10 s to answer (20 s
# for a whole connection) and reports a hang itself, with what it got.
#
# Seeds are read from fuzz/corpus/<target>/ (kept in git), the protocol's
# words from fuzz/dicts/<target>.dict where there is one; what the fuzzer
# finds new goes to fuzz/corpus-new/<target>/ (not in git). A crash is saved
# in fuzz/artifacts/<target>/ and this script fails; then copy the input
# into fuzz/corpus/<target>/ (so the smoke test replays it for ever), add a
# test with it next to the code it broke (src/protocol/, or tests/session.rs
# for the server's rules), and fix.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET="${1:-60}"
TARGETS="${FUZZ_TARGETS:-session frame file_name server}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"

if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: needs cargo-fuzz and the $TOOLCHAIN toolchain:" >&2
    echo "  rustup toolchain install $TOOLCHAIN && cargo install cargo-fuzz" >&2
    exit 2
fi

status=0
for t in $TARGETS; do
    mkdir -p "corpus-new/$t" "corpus/$t"
    # The protocol's words, for the targets that have a dictionary.
    dict=()
    [ -f "dicts/$t.dict" ] && dict=("-dict=dicts/$t.dict")
    echo "== fuzz $t for ${SECONDS_PER_TARGET}s"
    if ! cargo "+$TOOLCHAIN" fuzz run "$t" "corpus-new/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=30 \
        -rss_limit_mb=2048 -print_final_stats=1 ${dict[@]+"${dict[@]}"}; then
        echo "fuzz.sh: target $t FAILED; the input is in fuzz/artifacts/$t/" >&2
        status=1
    fi
done
exit $status
