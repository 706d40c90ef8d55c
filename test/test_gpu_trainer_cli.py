"""
The GPU trainer's command line and start-up errors, checked on any machine (CI has no GPU):
flags are parsed before CUDA is touched, and with no visible GPU (CUDA_VISIBLE_DEVICES="")
it stops with a clear message instead of crashing. `make test` builds ./train_gpt2cu first.
"""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINER = os.path.join(ROOT, "train_gpt2cu")


def run(args):
    if not os.path.exists(TRAINER):
        pytest.fail("./train_gpt2cu is not built: run `make train_gpt2cu` (make test does)")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"):
        env.pop(k, None)
    return subprocess.run([TRAINER] + [str(a) for a in args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def parser_options():
    """(short or None, long, trainers) of every row of core/train_args.c's option table, the one the parser reads."""
    src = open(os.path.join(ROOT, "core", "train_args.c")).read()
    table = src[src.index("static const Opt OPTS[]"):src.index("#define NUM_OPTS")]
    rows = re.findall(r'\{(NULL|"(\w+)"), "([\w-]+)", OPT_\w+,.*?, (BOTH|TRAINER_GPU|TRAINER_CPU), "', table)
    assert len(rows) >= 40, f"parsed {len(rows)} options from core/train_args.c: the table's format changed"
    return [(short or None, long, kind) for _, short, long, kind in rows]


def test_help_lists_every_gpu_flag():
    r = run(["--help"])
    assert r.returncode == 0
    for short, long, kind in parser_options():
        if kind == "TRAINER_CPU":
            continue
        shown = f"-{short}, --{long}" if short else f"--{long}"
        assert shown in r.stdout, f"{shown} missing from train_gpt2cu --help"


def test_readme_flag_table_covers_every_flag():
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme[readme.index("## Command line"):]
    section = section[:section.index("\n## ", 4)]
    for short, long, _ in parser_options():
        names = [f"`--{long}`"] + ([f"`-{short}`"] if short else [])
        assert any(n in section for n in names), f"README's Command line table has neither of {names}"


@pytest.mark.parametrize("args,needle", [
    (["--sparsity", "1.2"], "[0, 1)"),
    (["-pi", "carrier-pigeon"], "mpi|tcp|fs"),
    (["--attention", "fast"], "auto|own|cudnn"),
    (["-z", "2"], "-z"),
    (["--gemm-tune", "2"], "--gemm-tune"),
    (["--no-such-flag"], "unknown option"),
    (["-b"], "needs a value"),
])
def test_bad_flags(args, needle):
    r = run(args)
    assert r.returncode == 1
    assert needle in r.stderr, r.stderr


def test_no_gpu_is_a_clear_error():
    r = run(["-e", "d2", "-x", "1"])
    assert r.returncode == 1
    assert "no CUDA device" in r.stderr and "./train_gpt2" in r.stderr, r.stderr


def test_tcp_rendezvous_needs_a_server():
    r = run(["-pi", "tcp", "-pn", "2", "-pr", "1"])
    assert r.returncode == 1
    assert "-ps" in r.stderr, r.stderr
