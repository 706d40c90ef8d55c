#!/usr/bin/env python3
"""plot_study.py - figures of a sparse pretraining study (scripts/sparse_study.sh) from its logs.

    python3 scripts/plot_study.py [RESULTS] [--out DIR] [--prefix NAME]

RESULTS (default log_study) holds one folder per run with main.log (llm.c lines: `s:STEP trl:LOSS sp:SPARSITY
lr:.. norm:.. ms:STEP_MS`, `s:STEP tel:VAL_LOSS`, `s:STEP event:prune ...`) and result.txt (tokens_per_step,
sparsity). Writes into --out (default docs/):
  PREFIX_val_loss.png     validation loss against training tokens, every run (left: whole run, right: last half)
  PREFIX_sparsity.png     MLP block sparsity against step
  PREFIX_tokens_per_s.png training throughput (tokens/s, running median of 9 steps) against step
Needs matplotlib (pip install matplotlib).
"""

import argparse
import glob
import os
import statistics
import sys


def read_run(d):
    info = {}
    rf = os.path.join(d, "result.txt")
    if os.path.isfile(rf):
        info = dict(l.rstrip("\n").split("=", 1) for l in open(rf) if "=" in l)
    train, val, prunes = [], [], []
    for line in open(os.path.join(d, "main.log")):
        kv = dict(t.split(":", 1) for t in line.split() if ":" in t)
        if "s" not in kv:
            continue
        s = int(kv["s"])
        if "trl" in kv:
            train.append((s, float(kv["trl"]), float(kv["sp"]), float(kv["ms"])))
        elif "tel" in kv:
            val.append((s, float(kv["tel"])))
        elif kv.get("event") == "prune":
            prunes.append(s)
    name = os.path.basename(d.rstrip("/"))
    sparsity = float(info.get("sparsity", name.rsplit("_s", 1)[-1] if "_s" in name else 0))
    return dict(name=name, info=info, train=train, val=val, prunes=prunes, sparsity=sparsity,
                tokens_per_step=int(info.get("tokens_per_step", 0)) or None)


def label(r):
    return "dense" if r["sparsity"] == 0 else "sparsity %g" % r["sparsity"]


def running_median(xs, k):
    h = k // 2
    return [statistics.median(xs[max(0, i - h):i + h + 1]) for i in range(len(xs))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", default="log_study", help="the study's results folder")
    ap.add_argument("--out", default="docs", help="output folder for the PNGs (default docs/)")
    ap.add_argument("--prefix", default="study", help="file name prefix (default study)")
    ap.add_argument("--tokens-per-step", type=int, default=None,
                    help="tokens per optimizer step, for runs without result.txt")
    ap.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("error: matplotlib is not installed (pip install matplotlib)")

    dirs = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(args.results, "*", "main.log")))
    if not dirs:
        sys.exit("error: no */main.log under '%s'" % args.results)
    runs = sorted((read_run(d) for d in dirs), key=lambda r: r["sparsity"])
    for r in runs:
        r["tokens_per_step"] = args.tokens_per_step or r["tokens_per_step"]
        if not r["tokens_per_step"]:
            sys.exit("error: %s has no result.txt with tokens_per_step: pass --tokens-per-step" % r["name"])
    os.makedirs(args.out, exist_ok=True)
    cmap = plt.get_cmap("viridis")
    colors = {r["name"]: ("black" if r["sparsity"] == 0 else cmap(0.15 + 0.75 * i / max(1, len(runs) - 1)))
              for i, r in enumerate(runs)}
    first = runs[0]["info"]
    title = "d%s, T=%s, B=%s, %s steps" % (first.get("depth", "?"), first.get("T", "?"), first.get("B", "?"),
                                           first.get("steps", "?"))
    written = []

    # 1. validation loss against tokens
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for r in runs:
        if not r["val"]:
            continue
        x = [s * r["tokens_per_step"] / 1e6 for s, _ in r["val"]]
        y = [v for _, v in r["val"]]
        for ax in axes:
            ax.plot(x, y, marker=".", color=colors[r["name"]], label="%s (%.3f)" % (label(r), y[-1]))
    xmax = max(s for r in runs for s, _ in r["val"]) * runs[0]["tokens_per_step"] / 1e6
    tail = [v for r in runs for s, v in r["val"] if s * r["tokens_per_step"] / 1e6 >= xmax / 2]
    if tail:
        axes[1].set_xlim(xmax / 2 - xmax * 0.02, xmax * 1.02)
        lo, hi = min(tail), max(tail)
        axes[1].set_ylim(lo - 0.05 * (hi - lo + 1e-3), hi + 0.05 * (hi - lo + 1e-3))
    axes[0].set_title("validation loss (" + title + ")")
    axes[1].set_title("second half of the run")
    for ax in axes:
        ax.set_xlabel("training tokens (M)")
        ax.set_ylabel("validation loss")
        ax.grid(alpha=0.3)
    axes[0].legend(title="final sparsity (final val loss)", fontsize=8)
    fig.tight_layout()
    p = os.path.join(args.out, args.prefix + "_val_loss.png")
    fig.savefig(p, dpi=args.dpi)
    plt.close(fig)
    written.append(p)

    # 2. sparsity against step
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        if r["train"]:
            ax.plot([t[0] for t in r["train"]], [t[2] for t in r["train"]], color=colors[r["name"]], label=label(r))
    ax.set_xlabel("step")
    ax.set_ylabel("MLP block sparsity (fraction of blocks pruned)")
    ax.set_title("sparsity schedule (cubic; a dot per mask update)")
    for r in runs:
        if r["prunes"]:
            sp = dict((t[0], t[2]) for t in r["train"])
            xs = [s + 1 for s in r["prunes"] if s + 1 in sp]  # a mask update at step s shows from step s+1 on
            ax.plot(xs, [sp[s] for s in xs], ".", color=colors[r["name"]], ms=4)
    ax.set_ylim(-0.02, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    p = os.path.join(args.out, args.prefix + "_sparsity.png")
    fig.savefig(p, dpi=args.dpi)
    plt.close(fig)
    written.append(p)

    # 3. tokens/s against step
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        tr = [t for t in r["train"] if t[0] > 1]  # the first step includes warm-up
        if not tr:
            continue
        tps = [r["tokens_per_step"] / (t[3] / 1000) / 1e3 for t in tr]
        ax.plot([t[0] for t in tr], running_median(tps, 9), color=colors[r["name"]], label=label(r), lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("training throughput (K tokens/s)")
    ax.set_title("throughput (running median of 9 steps; " + title + ")", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    p = os.path.join(args.out, args.prefix + "_tokens_per_s.png")
    fig.savefig(p, dpi=args.dpi)
    plt.close(fig)
    written.append(p)
    for p in written:
        print("wrote %s (%d KB)" % (p, os.path.getsize(p) // 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
