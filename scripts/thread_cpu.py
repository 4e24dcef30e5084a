#!/usr/bin/env python3
"""Per-thread CPU of papo's server during one broadcast run (BENCHMARKS.md,
"Writing history cheaper").

usage: scripts/thread_cpu.py LABEL PAPO_BENCH [extra args, e.g. --history-db]

Runs `PAPO_BENCH run --system papo --scenario broadcast [extra args]`, polls
the `papo-bench serve` child's threads' /proc/<pid>/task/<tid>/schedstat
(nanoseconds on a CPU) every 20 ms, and prints one line: the 1-minute load
average at the start, deliveries/s and measured server CPU (the benchmark's
own figures), and the CPU seconds of the I/O threads (papo-io-*) and of the
history writer (papo-history) over the server's whole life (the last values
read before it exited). Linux only.
"""
import json
import os
import subprocess
import sys
import time

label, binary, args = sys.argv[1], sys.argv[2], sys.argv[3:]
load = open('/proc/loadavg').read().split()[:3]
p = subprocess.Popen([binary, 'run', '--system', 'papo', '--scenario', 'broadcast'] + args,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
last = {}


def children(pid):
    try:
        return [int(c) for c in open(f'/proc/{pid}/task/{pid}/children').read().split()]
    except OSError:
        return []


while p.poll() is None:
    for c in children(p.pid):
        try:
            for t in os.listdir(f'/proc/{c}/task'):
                comm = open(f'/proc/{c}/task/{t}/comm').read().strip()
                ns = int(open(f'/proc/{c}/task/{t}/schedstat').read().split()[0])
                last[(t, comm)] = ns
        except OSError:
            pass
    time.sleep(0.02)
out = json.loads(p.stdout.read())
agg = {}
for (t, comm), ns in last.items():
    k = 'io' if comm.startswith('papo-io') else comm
    agg[k] = agg.get(k, 0) + ns / 1e9
print("%s %s load=%s %.2fM srv=%.3f io=%.3f writer=%.3f lost=%d" % (
    time.strftime('%H:%M:%S'), label, ' '.join(load), out['deliveries_per_s'] / 1e6,
    out['server_cpu_s'], agg.get('io', 0), agg.get('papo-history', 0), out['lost']))
sys.exit(0 if out['lost'] == 0 else 1)
