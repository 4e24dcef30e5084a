#!/usr/bin/env bash
# Runs every papo test on this machine: the lints (rustfmt, clippy on the
# library, its tests and examples, and the benchmark), Rust (unit,
# integration, doc, header check, C API from C), the C examples and C tests
# with the strict flags (also as C++), the benchmark's smoke run, and the
# Python bindings (mypy --strict on the package, pytest with the GUI under
# Xvfb). On a fresh Debian machine it
# first installs what is missing.
#
# Every step runs even when an earlier one failed; the failed steps are
# listed at the end and the script exits 1.
#
# The tests run with TMPDIR and HOME pointing at fresh, empty folders (the
# toolchains keep theirs: CARGO_HOME, RUSTUP_HOME and PYENV_ROOT are set to
# the real ones, and pip runs with the real HOME). A test must delete what
# it creates: anything left in those folders is listed and fails the run.
# The folders are deleted at the end either way.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! scripts/install-deps.sh; then
    echo "test.sh: installing what is missing failed; nothing was run" >&2
    exit 1
fi

REAL_HOME=$HOME
export CARGO_HOME="${CARGO_HOME:-$REAL_HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$REAL_HOME/.rustup}"
if [ -z "${PYENV_ROOT:-}" ] && [ -d "$REAL_HOME/.pyenv" ]; then
    export PYENV_ROOT="$REAL_HOME/.pyenv"
fi

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/papo-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
TEST_TMP="$SCRATCH/tmp"
TEST_HOME="$SCRATCH/home"
mkdir "$TEST_TMP" "$TEST_HOME"

FAILED=()

# step NAME COMMAND...: runs COMMAND as it is (for builds and installs);
# a non-zero exit is recorded and the run goes on.
step() {
    local name=$1 rc=0
    shift
    echo "== $name"
    "$@" || rc=$?
    [ "$rc" -eq 0 ] || FAILED+=("$name (exit $rc)")
}

# test_step NAME COMMAND...: as step, with TMPDIR and HOME pointing at the
# test folders.
test_step() {
    local name=$1
    shift
    step "$name" env TMPDIR="$TEST_TMP" HOME="$TEST_HOME" "$@"
}

step "Lint: cargo fmt --check" cargo fmt --all --check
step "Lint: cargo clippy (library, tests, examples, benchmark)" \
    cargo clippy --workspace --all-targets -- -D warnings
# Every public item documented, every doc link resolving.
step "Lint: cargo doc (library)" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib

# --no-fail-fast: every test binary runs even after one failed.
test_step "Rust: cargo test --all-targets" cargo test --all-targets --no-fail-fast
test_step "Rust: cargo test --doc" cargo test --doc

test_step "C: make test-c" make test-c

test_step "Benchmark smoke run (seconds; fails if anything is lost)" scripts/bench.sh --smoke

VENV=build/venv
PIP_TMP="$SCRATCH/pip"
mkdir "$PIP_TMP"
# The virtual environment, pip and the build of the bindings (cargo, via
# setuptools-rust): the real HOME (pip's cache), a TMPDIR of their own.
python_env() (
    export TMPDIR="$PIP_TMP"
    { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } &&
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "./bindings/python[test]"
)
step "Python: bindings in a virtual environment" python_env
# The package's annotations (it ships py.typed); the cache goes with this run.
step "Python: mypy --strict" "$VENV/bin/python" -m mypy --strict \
    --cache-dir "$SCRATCH/mypy-cache" bindings/python/src
mkdir -p test-artifacts
# pytest's tmp_path folders (pytest keeps them, and the last three runs'):
# in a folder of this run's own, deleted with it.
test_step "Python: pytest" "$VENV/bin/python" -m pytest bindings/python/tests \
    --basetemp="$SCRATCH/pytest"
# The browser client in Debian's Chromium (Selenium, /usr/bin/chromedriver):
# two browser users, nc and the C client; screenshots in test-artifacts/.
test_step "Browser: Chromium (Selenium)" "$VENV/bin/python" -m pytest tests/browser \
    -p no:cacheprovider --basetemp="$SCRATCH/pytest-browser"

echo "== Left behind"
left=$(cd "$SCRATCH" && find tmp home -mindepth 1 -maxdepth 3 | sort)
if [ -n "$left" ]; then
    echo "test.sh: the tests left these in TMPDIR (tmp/) and HOME (home/):"
    echo "$left" | sed 's/^/  /'
    FAILED+=("Left behind: $(echo "$left" | wc -l) entries in TMPDIR or HOME")
else
    echo "nothing"
fi

if [ ${#FAILED[@]} -gt 0 ]; then
    echo
    echo "test.sh: ${#FAILED[@]} step(s) FAILED:"
    printf '  %s\n' "${FAILED[@]}"
    exit 1
fi
echo
echo "test.sh: every step passed"
