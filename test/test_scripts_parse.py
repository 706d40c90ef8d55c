"""The shell scripts that need GPUs (benchmarks, launchers, the multi-GPU checks) cannot run in CI; each
must at least parse (bash -n) and say how it is used in its header, so that a first multi-GPU loan does
not stop on a syntax error. The CPU-runnable scripts are run for real by their own tests
(test_study_scripts.py, test_build_corpus.py)."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "scripts", "*.sh")))


def test_every_script_is_listed():
    names = {os.path.basename(p) for p in SCRIPTS}
    assert {"run_multi_gpu.sh", "run_multi_node.sh", "run_slurm.sh", "multi_gpu_checks.sh",
            "bench_sparse_step.sh", "bench_throughput.sh"} <= names, names


@pytest.mark.parametrize("path", SCRIPTS, ids=os.path.basename)
def test_script_parses_and_has_a_usage_header(path):
    r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(path) as f:
        head = [next(f, "") for _ in range(3)]
    assert head[0].startswith("#!") and any(line.startswith("#") and len(line) > 10 for line in head[1:]), \
        f"{os.path.basename(path)}: a shebang and a comment saying what it does"
