#!/usr/bin/python3
"""Compares edgeml with ONNX Runtime on the same models, as ratios measured in one run.

For each model and thread count, runs ONNX Runtime (../shared/bench/ort_bench.js) and
`edgeml bench` alternately, A B A B, for R rounds; each round is a fresh process of each, batch 1,
measured for at least S seconds after its warm-up. Prints per model and thread count the median
latency of each runtime per round, the ratio edgeml/ORT per round, and the median ratio.
Protocol and columns: bench/README.md. Standard library only.

  bench/compare_ort.py [MODEL.onnx|DIR ...] [--models MODEL.onnx|DIR,...] [--rounds 3]
                       [--seconds 3] [--threads 1,2]
                       [--edgeml PATH] [--edgeml-warmup N] [--ort-node DIR] [--json FILE]
"""
import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("EML_SHARED_DIR") or os.path.join(os.path.dirname(REPO), "shared")
DEFAULT_MODELS = [os.path.join(SHARED, "models", m, "model.onnx")
                  for m in ("mobilenet_v2", "resnet18", "squeezenet1_1")]
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                     "edgeml", "ort")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description="edgeml vs ONNX Runtime, alternating rounds "
                                            "(see bench/README.md)")
    p.add_argument("models", nargs="*", help="ONNX models, or folders standing for every "
                   "DIR/*/model.onnx (default: mobilenet_v2, resnet18, squeezenet1_1 from "
                   "../shared/models)")
    p.add_argument("--models", dest="more_models", default="",
                   help="more models or folders, comma-separated (e.g. the output folder of "
                        "bench/models/make_models.py)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of A B per model and thread "
                                                         "count (default 3)")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="measured seconds per process, after warm-up (default 3)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--edgeml", help="the edgeml program (default: $EDGEML, else build/edgeml)")
    p.add_argument("--edgeml-warmup", type=int, default=None,
                   help="edgeml warm-up runs (default: edgeml bench's own, 10)")
    p.add_argument("--ort-node", help="the onnxruntime-node package folder (default: $ORT_NODE, "
                                      "else the cache, installed there when absent)")
    p.add_argument("--ort-bench", default=os.path.join(SHARED, "bench", "ort_bench.js"),
                   help="ort_bench.js (default: ../shared/bench/ort_bench.js)")
    p.add_argument("--json", metavar="FILE", help="also write every round's records to FILE")
    p.add_argument("--realtime", type=int, metavar="PRIO", default=0,
                   help="run both runtimes under `chrt -f PRIO` (SCHED_FIFO; needs root): other "
                        "processes on the machine then cannot preempt a timed run's threads")
    p.add_argument("--cpus", metavar="LIST", default="",
                   help="pin both runtimes to the first THREADS CPUs of this comma-separated list "
                        "(`taskset -c`; e.g. 1,0): on a VM whose CPUs run at different speeds "
                        "(a busy neighbour on one of them), both then time the same CPUs")
    a = p.parse_args()
    try:
        a.threads = [int(t) for t in a.threads.split(",")]
    except ValueError:
        p.error("--threads wants numbers like 1,2")
    if a.rounds < 1 or a.seconds <= 0 or any(t < 1 for t in a.threads):
        p.error("--rounds, --seconds and --threads must be positive")
    try:
        a.cpus = [int(c) for c in a.cpus.split(",") if c]
    except ValueError:
        p.error("--cpus wants CPU numbers like 1,0")
    if a.cpus and max(a.threads) > len(a.cpus):
        p.error("--cpus must list at least as many CPUs as the largest thread count")
    items = a.models + [m for m in a.more_models.split(",") if m]
    a.models = []
    for it in items or DEFAULT_MODELS:
        if os.path.isdir(it):
            found = sorted(glob.glob(os.path.join(it, "*", "model.onnx")))
            if not found:
                p.error(f"no */model.onnx under {it}")
            a.models += found
        else:
            a.models.append(it)
    return a


def find_edgeml(path):
    path = path or os.environ.get("EDGEML") or os.path.join(REPO, "build", "edgeml")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit(f"error: no edgeml program at {path} (build it, or give --edgeml PATH)")
    return os.path.abspath(path)


def find_ort(path):
    """The onnxruntime-node package folder; installs it into the cache folder when absent."""
    def ok(d):
        return d and os.path.isfile(os.path.join(d, "package.json"))
    for d in (path, os.environ.get("ORT_NODE")):
        if d:
            if not ok(d):
                sys.exit(f"error: no onnxruntime-node package at {d}")
            return os.path.abspath(d)
    cached = os.path.join(CACHE, "node_modules", "onnxruntime-node")
    readme = "/tmp/ort/node_modules/onnxruntime-node"  # where ../shared/bench/README.md puts it
    for d in (cached, readme):
        if ok(d):
            return d
    if not shutil.which("npm") or not shutil.which("node"):
        sys.exit("error: node and npm are needed to run ONNX Runtime (onnxruntime-node)")
    # the package's install step would fetch GPU libraries from outside; the CPU library ships
    # inside the npm package, so the step is skipped
    log(f"onnxruntime-node is not installed: installing it into {CACHE} "
        f"(ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix {CACHE} onnxruntime-node)")
    os.makedirs(CACHE, exist_ok=True)
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
    r = subprocess.run(["npm", "install", "--prefix", CACHE, "--no-audit", "--no-fund",
                        "onnxruntime-node"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or not ok(cached):
        sys.exit("error: npm install of onnxruntime-node failed:\n" + r.stdout[-2000:])
    return cached


def cpu_info():
    """lscpu's model name and the SIMD flags that matter for these kernels."""
    name, flags = "", ""
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name" and not name:
                name = value.strip()
            elif key.strip() == "Flags":
                flags = value
    except (OSError, subprocess.CalledProcessError):
        pass
    if not flags:
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key.strip() == "model name" and not name:
                        name = value.strip()
                    elif key.strip() in ("flags", "Features") and not flags:
                        flags = value
        except OSError:
            pass
    words = set(flags.split())
    return {"model_name": name or platform.processor() or "unknown",
            "cpus": os.cpu_count(),
            "flags": {f: f in words for f in ("avx2", "avx512f", "avx512_vnni")}}


def run_json(cmd, env=None, timeout=None):
    """Runs cmd; returns (the last JSON object it printed, None) or (None, an error line)."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    if r.returncode != 0:
        lines = [l for l in (r.stderr or r.stdout).splitlines() if l.strip()]
        return None, f"exit {r.returncode}: " + (lines[-1] if lines else "no message")
    for line in reversed(r.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line), None
            except ValueError:
                break
    return None, "no JSON object in its output"


def realtime(a, threads):
    """The command prefix that pins a process to the first `threads` CPUs of --cpus and runs it at
    SCHED_FIFO priority --realtime (each only when asked for)."""
    pin = ["taskset", "-c", ",".join(str(c) for c in a.cpus[:threads])] if a.cpus else []
    return pin + (["chrt", "-f", str(a.realtime)] if a.realtime else [])


def ort_round(a, model, threads):
    # one thread count per process, everything else exactly as ort_bench.js does it
    cmd = realtime(a, threads) + ["node", a.ort_bench, model, "--threads", str(threads), "--seconds",
                         str(a.seconds), "--json"]
    rec, err = run_json(cmd, env=dict(os.environ, ORT_NODE=a.ort_node),
                        timeout=a.seconds * 20 + 600)
    return (rec["median_ms"], rec) if rec else (None, err)


def edgeml_round(a, model, threads):
    cmd = realtime(a, threads) + [a.edgeml, "bench", model, "--threads", str(threads), "--seconds",
                         str(a.seconds), "--json"]
    if a.edgeml_warmup is not None:
        cmd += ["--warmup", str(a.edgeml_warmup)]
    rec, err = run_json(cmd, timeout=a.seconds * 20 + 1800)
    if not rec:
        return None, err
    for inp in rec.get("inputs", []):
        if inp.get("shape") and inp["shape"][0] != 1:
            log(f"warning: {model}: input '{inp['name']}' runs with first dim "
                f"{inp['shape'][0]}, not batch 1")
    return rec["latency_ms"]["p50"], rec


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def fmt(x, width=10):
    if not isinstance(x, float):
        return f"{'failed':>{width}}"
    return f"{x:>{width}.3f}" if x >= 1 else f"{x:>{width}.4f}"


def median_or_none(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    a = parse_args()
    a.edgeml = find_edgeml(a.edgeml)
    if not os.path.isfile(a.ort_bench):
        sys.exit(f"error: no ort_bench.js at {a.ort_bench} (give --ort-bench PATH)")
    a.ort_node = find_ort(a.ort_node)
    missing = [m for m in a.models if not os.path.isfile(m)]
    if missing:
        sys.exit("error: no such model: " + ", ".join(missing))

    cpu = cpu_info()
    flags = ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in cpu["flags"].items())
    version = subprocess.run([a.edgeml, "--version"], stdout=subprocess.PIPE,
                             text=True).stdout.strip()
    print(f"cpu: {cpu['model_name']} ({cpu['cpus']} CPUs); {flags}")
    loads = [load_average()]
    if loads[0] is not None:
        print(f"load: 1-minute load average {loads[0]:.1f} at the start")
    print(f"edgeml: {a.edgeml} ({version}); onnxruntime-node: {a.ort_node}")
    print(f"protocol: batch 1, threads {','.join(map(str, a.threads))}, {a.rounds} rounds of "
          f"ORT then edgeml, each a fresh process measured >= {a.seconds:g} s after warm-up; "
          f"latency = each process's median" +
          (f"; both under SCHED_FIFO priority {a.realtime}" if a.realtime else "") +
          (f"; both pinned to CPUs {','.join(map(str, a.cpus))} (the first THREADS of them)"
           if a.cpus else ""))
    sys.stdout.flush()

    results, summary, ort_version = [], [], None
    for model in a.models:
        name = os.path.basename(os.path.dirname(os.path.abspath(model))) or model
        for t in a.threads:
            rows, load0 = [], load_average()
            for r in range(1, a.rounds + 1):
                log(f"{name}, {t} thread{'s' if t > 1 else ''}: round {r}/{a.rounds}: ORT")
                ort_ms, ort_rec = ort_round(a, model, t)
                log(f"{name}, {t} thread{'s' if t > 1 else ''}: round {r}/{a.rounds}: edgeml")
                eml_ms, eml_rec = edgeml_round(a, model, t)
                for what, ms, rec in (("ORT", ort_ms, ort_rec), ("edgeml", eml_ms, eml_rec)):
                    if ms is None:
                        log(f"  {what} failed: {rec}")
                if isinstance(ort_rec, dict):
                    ort_version = ort_rec.get("version", ort_version)
                ratio = eml_ms / ort_ms if ort_ms and eml_ms is not None else None
                rows.append((r, ort_ms, eml_ms, ratio))
                results.append({"model": model, "threads": t, "round": r, "ort": ort_rec,
                                "edgeml": eml_rec, "ratio": ratio})
            load1 = load_average()
            loads += [load0, load1]
            load_note = f" (load average {load0:.1f} -> {load1:.1f})" if load1 is not None else ""
            print(f"\n{name} ({model}), {t} thread{'s' if t > 1 else ''}{load_note}")
            print(f"{'round':>6} {'ORT ms':>10} {'edgeml ms':>10} {'edgeml/ORT':>11}")
            for r, o, e, q in rows:
                print(f"{r:>6} {fmt(o)} {fmt(e)} {fmt(q, 11)}")
            med = tuple(median_or_none([row[k] for row in rows]) for k in (1, 2, 3))
            print(f"{'median':>6} {fmt(med[0])} {fmt(med[1])} {fmt(med[2], 11)}")
            summary.append((name, t) + med)
            sys.stdout.flush()

    print(f"\nsummary (ONNX Runtime {ort_version or '?'}; medians over rounds; the ratio is the "
          f"median of the per-round ratios)")
    print(f"{'model':<16} {'threads':>7} {'ORT ms':>10} {'edgeml ms':>10} {'edgeml/ORT':>11}")
    for name, t, o, e, q in summary:
        print(f"{name:<16} {t:>7} {fmt(o)} {fmt(e)} {fmt(q, 11)}")
    loads = [x for x in loads if x is not None]
    if loads and max(loads) > 0.5 * (cpu["cpus"] or 1):
        # other processes took CPU time from both runtimes: absolute times are inflated and the
        # ratios carry that noise, most of all at threads > 1
        print(f"\nwarning: the machine was busy (1-minute load average up to {max(loads):.1f} on "
              f"{cpu['cpus']} CPUs); rerun on a quiet machine for figures to quote")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu, "load_averages": loads, "edgeml": version,
                       "realtime_priority": a.realtime, "cpus": a.cpus,
                       "onnxruntime": ort_version,
                       "rounds": a.rounds, "seconds": a.seconds, "results": results}, f, indent=1)
    return 1 if any(q is None for *_, q in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
