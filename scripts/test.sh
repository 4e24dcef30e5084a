#!/usr/bin/env bash
# Runs every papo test on this machine: Rust (unit, integration, header
# check, C API from C), the C examples and C tests with the strict flags
# (also as C++), and the Python bindings with the GUI under Xvfb.
# On a fresh Debian machine it first installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== Rust: cargo test"
cargo test --all-targets

echo "== C: make test-c"
make test-c

echo "== Python: bindings in a virtual environment"
VENV=build/venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "./bindings/python[test]"
mkdir -p test-artifacts
"$VENV/bin/python" -m pytest bindings/python/tests

echo "== Benchmark smoke run (seconds; fails if anything is lost)"
scripts/bench.sh --smoke
