#!/usr/bin/env bash
# The benchmark of issue 5 (see BENCHMARKS.md): papo beside NATS and Redis
# pub/sub, same load generator, same run, on loopback.
#
#   scripts/bench.sh            full run: every scenario, 3 runs each, medians;
#                               installs nats-server, redis-server and a font
#                               for the plot if missing (Debian, apt-get);
#                               results in bench/results/
#   scripts/bench.sh --smoke    a few seconds, small sizes, papo (and NATS/Redis
#                               only if already installed); installs nothing;
#                               exits non-zero if anything is lost or breaks;
#                               results in target/bench-smoke/
#   scripts/bench.sh --presence-storm
#                               issue 14's presence storm: 10,000 papo clients
#                               with presence on register, 8 handshakes in
#                               flight, none reading until all are in; prints
#                               the run's JSON (connect_s: all registered;
#                               server_rss_peak_kib); installs nothing
#
# Any other argument goes to `papo-bench suite` (e.g. --runs 5,
# --systems papo,nats, --only broadcast,latency, --out DIR); see
# `target/release/papo-bench suite --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
for a in "$@"; do
  [ "$a" = "--smoke" ] && smoke=1
  if [ "$a" = "--presence-storm" ]; then
    cargo build --release -p papo-bench
    echo "bench: presence storm: $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    exec target/release/papo-bench run --system papo --scenario connections \
      --clients 10000 --in-flight 8 --defer-reads
  fi
done

if [ "$smoke" = 0 ]; then
  need_apt=()
  [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null || need_apt+=(nats-server)
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
  if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "bench: apt-get install ${need_apt[*]}"
    $SUDO apt-get update -qq
    # The packages' own services are not used (and not started where
    # policy-rc.d forbids it); the benchmark starts its own servers on free
    # loopback ports and stops them afterwards.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  fi
fi

echo "bench: building papo-bench (release)"
cargo build --release -p papo-bench
echo "bench: machine: $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exec target/release/papo-bench suite "$@"
