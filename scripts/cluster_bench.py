#!/usr/bin/env python3
"""One papo server beside a cluster of papo nodes over Redis (issue 13;
BENCHMARKS.md, "Clusters"), in alternating rounds.

usage: scripts/cluster_bench.py [--rounds N] [--nodes 3] [--bench PATH]
                                [--out FILE.jsonl] [--only broadcast,private,latency]
                                [-- extra papo-bench run arguments]
       scripts/cluster_bench.py --report FILE.jsonl...

Every round runs each scenario (broadcast S=100 P=10, private 50 pairs,
latency S=100 P=10 at 200 msg/s per sender: papo-bench run's defaults) once
on one server (`--nodes 1`, no Redis) and once on N nodes plus Redis
(`--nodes N`), one after the other, so that load from elsewhere on the
shared machine hits both alike. Each run is `PAPO_BENCH run --system papo
--scenario KIND [--nodes N]`; its JSON result goes, with the round and the
1-minute load average read from /proc/loadavg just before it, as one line
into --out (default target/cluster-bench.jsonl). One line per run is printed
as it ends, and Markdown tables at the end: every run, the medians, and the
CPU per message by process and thread. `--report` prints the same tables
from the lines of earlier runs, running nothing (rounds are numbered on
across files). Exits 1 if any run lost something or broke (the runs go on:
a loss is a finding to report, not a reason to stop).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def fmt_rate(v):
    if v >= 1e6:
        return "%.2f M" % (v / 1e6)
    if v >= 1e3:
        return "%.1f k" % (v / 1e3)
    return "%.0f" % v


def fmt_us(v):
    return "%.2f ms" % (v / 1000) if v >= 1000 else "%.0f µs" % v


def split_p99(r):
    lo, re = r.get("local"), r.get("remote")
    if not lo or not re:
        return "-"
    return "%s / %s" % (fmt_us(lo["p99_us"]) if lo["deliveries"] else "-",
                        fmt_us(re["p99_us"]) if re["deliveries"] else "-")


def threads(r):
    """The nodes' CPU by thread group, summed over the nodes, seconds."""
    tot = {}
    for t in r.get("node_thread_cpu_s") or []:
        for k, v in t.items():
            k = {"papo-cluster-pu": "pub", "papo-cluster-su": "sub",
                 "papo-cluster-ke": "keep", "papo-io": "io"}.get(k)
            if k:
                tot[k] = tot.get(k, 0) + v
    return " ".join("%s %.3f" % (k, tot[k]) for k in ("io", "pub", "sub", "keep") if k in tot)


def cpu_split(r):
    nodes = r.get("node_cpu_s") or []
    redis = r.get("redis_cpu_s")
    s = "+".join("%.3f" % c for c in nodes)
    if redis is not None:
        s += " | redis %.3f" % redis
    t = threads(r)
    return s + (" | " + t if t else "")


def problems(r):
    out = []
    if r.get("harness_error"):
        out.append("harness: " + r["harness_error"])
    if r.get("lost"):
        out.append("lost %d of %d (%s)" % (r["lost"], r["expected"], r.get("loss_reason")))
    for k in ("errors", "order_errors", "bad_payload", "cluster_notices", "lost_reported"):
        if r.get(k):
            out.append("%s=%d" % (k, r[k]))
    if r.get("disconnects"):
        out.append("%d disconnects" % len(r["disconnects"]))
    w = r.get("warmup")
    if w and w[0] < w[1]:
        out.append("warm-up %d of %d" % (w[0], w[1]))
    if r.get("acks", 0) < r.get("expected_acks", 0):
        out.append("acks %d of %d" % (r["acks"], r["expected_acks"]))
    return out


def run(a, kinds):
    """Runs the rounds; returns (rows, ok)."""
    rows = []
    ok = True
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "a") as out:
        for rnd in range(1, a.rounds + 1):
            for kind in kinds:
                for nodes in (1, a.nodes):
                    load = open("/proc/loadavg").read().split()[0]
                    cmd = [a.bench, "run", "--system", "papo", "--scenario", kind]
                    if nodes > 1:
                        cmd += ["--nodes", str(nodes)]
                    cmd += a.extra
                    t = time.strftime("%H:%M:%S", time.gmtime())
                    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
                    try:
                        r = json.loads(p.stdout)
                    except ValueError:
                        r = {"harness_error": "no JSON (exit %d): %s" % (
                            p.returncode, p.stderr.strip()[-300:]), "label": kind}
                    rec = {"round": rnd, "start_utc": t, "load": float(load), "kind": kind,
                           "nodes": nodes, "command": " ".join(cmd[1:]), "result": r}
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                    rows.append(rec)
                    pr = problems(r)
                    ok = ok and not pr
                    print("%s r%d load=%s %-9s nodes=%d %s/s p50=%s p99=%s cpu=%.3f (%s) %s" % (
                        t, rnd, load, kind, nodes, fmt_rate(r.get("deliveries_per_s", 0)),
                        fmt_us(r.get("p50_us", 0)), fmt_us(r.get("p99_us", 0)),
                        r.get("server_cpu_s", 0), cpu_split(r),
                        "; ".join(pr) if pr else "ok"), flush=True)
    return rows, ok


def load_rows(files):
    """The runs recorded in `files`, rounds numbered on from file to file."""
    rows = []
    for f in files:
        base = max([x["round"] for x in rows], default=0)
        for line in open(f):
            x = json.loads(line)
            x["round"] += base
            rows.append(x)
    return rows


def thread_sum(r, name):
    return sum(t.get(name, 0) for t in r.get("node_thread_cpu_s") or [])


def publishes(r):
    rs = r.get("redis_stats") or {}
    return (rs.get("commands") or {}).get("publish", {}).get("calls", 0)


def tables(rows, kinds, n_other):
    print("\n| round | start (UTC) | load | case | deliveries/s | p50 | p99 | p99 same node / other node | CPU s: nodes (each) | nodes' threads CPU s | redis-server CPU s | PUBLISH calls | lost / problems |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |")
    for x in rows:
        r = x["result"]
        rs = r.get("redis_stats") or {}
        pub = (rs.get("commands") or {}).get("publish", {}).get("calls")
        print("| %d | %s | %.2f | %s, %d node%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            x["round"], x["start_utc"], x["load"], x["kind"], x["nodes"],
            "s + Redis" if x["nodes"] > 1 else "",
            fmt_rate(r.get("deliveries_per_s", 0)), fmt_us(r.get("p50_us", 0)),
            fmt_us(r.get("p99_us", 0)), split_p99(r),
            "%.3f (%s)" % (sum(r.get("node_cpu_s") or [0]),
                           ", ".join("%.3f" % c for c in r.get("node_cpu_s") or [])),
            threads(r) or "-",
            "-" if r.get("redis_cpu_s") is None else "%.3f" % r["redis_cpu_s"],
            "-" if pub is None else str(pub),
            "; ".join(problems(r)) or "0"))
    print("\n| case | runs | median deliveries/s | median p50 | median p99 | median nodes CPU s | median redis CPU s | loads |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for kind in kinds:
        for nodes in (1, n_other):
            rs = [x for x in rows if x["kind"] == kind and x["nodes"] == nodes]
            good = [x["result"] for x in rs if not x["result"].get("harness_error")]
            if not good:
                continue
            med = lambda f: statistics.median([f(r) for r in good])
            redis = [r["redis_cpu_s"] for r in good if r.get("redis_cpu_s") is not None]
            print("| %s, %d node%s | %d | %s | %s | %s | %.3f | %s | %s |" % (
                kind, nodes, "s + Redis" if nodes > 1 else "", len(good),
                fmt_rate(med(lambda r: r.get("deliveries_per_s", 0))),
                fmt_us(med(lambda r: r.get("p50_us", 0))),
                fmt_us(med(lambda r: r.get("p99_us", 0))),
                med(lambda r: sum(r.get("node_cpu_s") or [0])),
                "%.3f" % statistics.median(redis) if redis else "-",
                ", ".join("%.2f" % x["load"] for x in rs)))
    print("\nCPU per message, medians over the runs (µs): every node together, split by thread;"
          " redis-server per PUBLISH; bytes Redis sent out per PUBLISH.\n")
    print("| case | nodes per message | per delivery | I/O threads | publisher | subscriber | redis-server per PUBLISH | bytes out of Redis per PUBLISH |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in kinds:
        for nodes in (1, n_other):
            good = [x["result"] for x in rows if x["kind"] == kind and x["nodes"] == nodes
                    and not x["result"].get("harness_error") and x["result"].get("sent")]
            if not good:
                continue
            med = lambda f: statistics.median([f(r) for r in good])
            per = lambda f: "%.2f" % med(lambda r: f(r) / r["sent"] * 1e6)
            pubs = [r for r in good if publishes(r)]
            print("| %s, %d node%s | %s | %.3f | %s | %s | %s | %s | %s |" % (
                kind, nodes, "s + Redis" if nodes > 1 else "",
                per(lambda r: sum(r.get("node_cpu_s") or [0])),
                med(lambda r: sum(r.get("node_cpu_s") or [0]) / max(1, r["deliveries"]) * 1e6),
                per(lambda r: thread_sum(r, "papo-io")),
                per(lambda r: thread_sum(r, "papo-cluster-pu")) if nodes > 1 else "-",
                per(lambda r: thread_sum(r, "papo-cluster-su")) if nodes > 1 else "-",
                "%.2f" % statistics.median([r["redis_cpu_s"] / publishes(r) * 1e6 for r in pubs])
                if pubs else "-",
                "%.0f" % statistics.median([r["redis_stats"]["net_output_bytes"] / publishes(r)
                                            for r in pubs]) if pubs else "-"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--bench", default="target/release/papo-bench")
    ap.add_argument("--out", default="target/cluster-bench.jsonl")
    ap.add_argument("--only", default="broadcast,private,latency")
    ap.add_argument("--report", nargs="+", metavar="FILE",
                    help="print the tables of earlier runs (their .jsonl files); run nothing")
    ap.add_argument("extra", nargs="*", help="more `papo-bench run` arguments (after --)")
    a = ap.parse_args()
    kinds = [k for k in a.only.split(",") if k]
    if a.report:
        rows = load_rows(a.report)
        ok = not any(problems(x["result"]) for x in rows)
        others = sorted({x["nodes"] for x in rows if x["nodes"] > 1})
        n_other = others[0] if others else a.nodes
    else:
        rows, ok = run(a, kinds)
        n_other = a.nodes
    tables(rows, kinds, n_other)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
