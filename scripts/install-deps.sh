#!/usr/bin/env bash
# Installs what building and testing papo needs on a fresh Debian machine
# (Rust, gcc and Python 3 are expected to be there already). Safe to run
# again: it only installs what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

need_apt=()
command -v cc >/dev/null || need_apt+=(gcc)
command -v g++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v Xvfb >/dev/null || need_apt+=(xvfb)
command -v xdotool >/dev/null || need_apt+=(xdotool)
python3 -c 'import tkinter' 2>/dev/null || need_apt+=(python3-tk)
# The LAN discovery tests make network namespaces and veth pairs (ip netns).
command -v ip >/dev/null || need_apt+=(iproute2)
# tests/papo_server_systemd.rs: systemd-analyze verify on contrib/papo-server.service.
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
# The cluster tests (tests/cluster_*.rs) start and stop their own redis-server.
command -v redis-server >/dev/null || need_apt+=(redis-server)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
# The browser test (tests/browser/): Debian's Chromium and its WebDriver,
# driven by Selenium from the test venv; nothing downloads a browser.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)

if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The lints scripts/test.sh runs: rustfmt and clippy (rustup components).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null; then
    echo "install-deps: rustup component add rustfmt clippy"
    rustup component add rustfmt clippy
  else
    echo "install-deps: cargo fmt and cargo clippy are missing (install rustfmt and clippy)" >&2
    exit 1
  fi
fi

# Python test tools go into the virtual environment made by scripts/test.sh.
