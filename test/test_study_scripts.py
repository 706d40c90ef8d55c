"""scripts/sparse_study.sh and scripts/plot_study.py end to end with the CPU trainer on a tiny model:
the study runs dense and sparse with the same flags, writes result.txt per run and the summary table,
and the plot script turns the logs into the three PNGs. (The GPU study itself runs on a GPU machine.)"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sparse_study_and_plots_with_cpu_trainer(corpus, tmp_path):
    if not os.path.exists(os.path.join(ROOT, "train_gpt2")):
        raise AssertionError("./train_gpt2 is not built: run `make train_gpt2` (make test does)")
    c = tmp_path / "corpus"
    shutil.copytree(corpus, c)
    (c / "CORPUS.md").write_text("# Corpus\n\nthe test corpus\n")  # present: the study does not build its own
    res = tmp_path / "study"
    env = dict(os.environ, TRAINER="./train_gpt2", CORPUS=str(c), RESULTS=str(res), DEPTH="2", B="2", T="32",
               STEPS="60", SPARSITIES="0 0.5", BLOCK="32", PRUNE_EVERY="10", VAL_EVERY="20", VAL_STEPS="4",
               OMP_NUM_THREADS="2")
    p = subprocess.run(["bash", "scripts/sparse_study.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for run in ("d2_s0", "d2_s0.5"):
        r = dict(l.strip().split("=", 1) for l in open(res / run / "result.txt") if "=" in l)
        assert r["steps"] == "60" and r["tokens"] == str(60 * 2 * 32) and int(r["ckpt_bytes"]) > 0
        assert not list((res / run).glob("model_*.bin")), "checkpoints are deleted unless KEEP_CKPT=1"
    rows = [l.split("|")[1:-1] for l in (res / "summary.md").read_text().splitlines() if l.startswith("| 0")]
    assert [r[0].strip() for r in rows] == ["0", "0.5"]
    dense, sparse = rows
    assert abs(float(sparse[1]) - 0.5) < 0.02, "the sparse run reached its final sparsity"
    assert float(dense[1]) == 0.0
    ck = {run: int(dict(l.strip().split("=", 1) for l in open(res / run / "result.txt") if "=" in l)["ckpt_bytes"])
          for run in ("d2_s0", "d2_s0.5")}
    assert ck["d2_s0.5"] < ck["d2_s0"], "the sparse model file is smaller (d2: mostly embeddings, so only a little)"
    assert abs(float(sparse[12].strip().rstrip("x")) - ck["d2_s0"] / ck["d2_s0.5"]) < 0.006, "file ratio column"
    figs = tmp_path / "figs"
    p = subprocess.run([sys.executable, "scripts/plot_study.py", str(res), "--out", str(figs), "--prefix", "t"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    for name in ("t_val_loss.png", "t_sparsity.png", "t_tokens_per_s.png"):
        data = (figs / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000, name
