"""
End-to-end tests of the CPU trainer (./train_gpt2): sparse training lowers the
validation loss, bit-exact resume across prune events, llm.c model import and
dense export, and clear errors on bad input. `make test` builds ./train_gpt2
before running pytest.
"""
import hashlib
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINER = os.path.join(ROOT, "train_gpt2")


def run(args, timeout=600, preexec_fn=None):
    if not os.path.exists(TRAINER):
        pytest.fail("./train_gpt2 is not built: run `make train_gpt2` (make test does)")
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    return subprocess.run([TRAINER] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=env, preexec_fn=preexec_fn)


def write_shard(path, tokens, magic=20240520, version=1, header_count=None):
    header = np.zeros(256, dtype=np.int32)
    header[0], header[1] = magic, version
    header[2] = len(tokens) if header_count is None else header_count
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(np.asarray(tokens, dtype=np.uint16).tobytes())


def data_args(corpus):
    return ["-i", os.path.join(corpus, "train_*.bin"), "-j", os.path.join(corpus, "val_*.bin")]


def parse_log(path):
    train, val, events = {}, {}, []
    for line in open(path):
        m = re.match(r"s:(\d+) trl:(\S+) sp:(\S+)", line)
        if m:
            train[int(m.group(1))] = (m.group(2), float(m.group(3)))
            continue
        m = re.match(r"s:(\d+) tel:(\S+)", line)
        if m:
            val[int(m.group(1))] = float(m.group(2))
            continue
        if "event:" in line:
            events.append(line.strip())
    return train, val, events


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# ----------------------------------------------------------------------------- training

def test_sparse_training_lowers_val_loss(corpus, tmp_path):
    """d2 for 200 steps with sparsity ramping 0 -> 0.9: val loss falls, the log shows sparsity per step."""
    out = tmp_path / "run"
    r = run(["-e", "d2", *data_args(corpus), "-b", 4, "-t", 64, "-x", 200, "-l", 1e-3, "-v", 50, "-m", 8, "-s", 0,
             "--sparsity", 0.9, "--block", 32, "--prune-start", 20, "--prune-end", 120, "--prune-every", 10,
             "-o", out, "-n", 200])
    assert r.returncode == 0, r.stderr
    train, val, events = parse_log(out / "main.log")
    assert sorted(train) == list(range(1, 201)), "one train line per step"
    sparsities = [train[s][1] for s in range(1, 201)]
    assert all(b >= a for a, b in zip(sparsities, sparsities[1:])), "sparsity is monotone"
    # s(t0) = s_i = 0, so the first block dies at the second update (t0 + every = 30),
    # which runs before the 31st step: main.log's s:31 line is the first with sparsity > 0
    assert sparsities[29] == 0.0 and sparsities[30] > 0.0, "first blocks pruned at --prune-start + --prune-every"
    assert abs(sparsities[-1] - 0.9) < 0.01, f"final sparsity {sparsities[-1]}"
    assert len(set(sparsities[120:])) == 1, "no mask changes after --prune-end"
    steps = [int(e.split()[0][2:]) for e in events]
    assert steps[0] == 30 and all(s % 10 == 0 and 30 <= s <= 120 for s in steps), f"mask updates every 10 steps: {events}"
    assert val[200] < val[0] - 2.0, f"val loss {val[0]} -> {val[200]}"
    print(f"val loss {val[0]:.3f} -> {val[200]:.3f}, final sparsity {sparsities[-1]:.3f}")
    # the sparse model file is smaller than the dense one would be
    dense_bytes = 1024 + 4 * 6966784
    assert os.path.getsize(out / "model_00000200.bin") < dense_bytes


def test_resume_is_bit_exact_across_prune_events(corpus, tmp_path):
    """Save at step 10, resume, continue: identical losses and final weights; prune events fall after the resume point."""
    common = ["-e", "d2", *data_args(corpus), "-b", 2, "-t", 64, "-d", 256, "-x", 24, "-l", 1e-3, "-v", 0, "-m", 2,
              "-s", 0, "--sparsity", 0.8, "--block", 32, "--prune-start", 4, "--prune-end", 16, "--prune-every", 3,
              "-n", 8]
    a, b = tmp_path / "a", tmp_path / "b"
    r = run(common + ["-o", a])
    assert r.returncode == 0, r.stderr
    b.mkdir()
    for name in ["model_00000008.bin", "state_00000008_00000.bin", "DONE_00000008"]:
        shutil.copy(a / name, b / name)
    r = run(common + ["-o", b, "-y", 1])
    assert r.returncode == 0, r.stderr
    assert "resume: step 8" in r.stdout
    ta, _, ea = parse_log(a / "main.log")
    tb, _, eb = parse_log(b / "main.log")
    assert sorted(tb) == list(range(9, 25))
    for s in range(9, 25):
        assert ta[s] == tb[s], f"step {s}: {ta[s]} vs {tb[s]}"
    assert [e for e in ea if int(e.split()[0][2:]) >= 8] == eb, "the same prune events after the resume point"
    assert len(eb) >= 2
    assert sha(a / "model_00000024.bin") == sha(b / "model_00000024.bin")
    assert sha(a / "state_00000024_00000.bin") == sha(b / "state_00000024_00000.bin")


def test_gradient_accumulation_matches_big_batch(corpus, tmp_path):
    """-b 2 with -d 256 (2 micro-steps) follows -b 4 closely (the same tokens, float summation order differs)."""
    base = ["-e", "d2", *data_args(corpus), "-t", 64, "-x", 5, "-l", 1e-3, "-v", 0, "-s", 0, "--shuffle", 0]
    r1 = run(base + ["-b", 4, "-o", tmp_path / "big"])
    r2 = run(base + ["-b", 2, "-d", 256, "-o", tmp_path / "acc"])
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    t1, _, _ = parse_log(tmp_path / "big" / "main.log")
    t2, _, _ = parse_log(tmp_path / "acc" / "main.log")
    for s in range(1, 6):
        assert abs(float(t1[s][0]) - float(t2[s][0])) < 1e-4, (s, t1[s], t2[s])


# ----------------------------------------------------------------------------- llm.c files

def write_llmc_model(path, L, C, NH, V, maxT, version, rng):
    Vp = (V + 127) // 128 * 128
    sizes = [Vp * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C, L * C, L * C,
             L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C]
    params = (rng.standard_normal(sum(sizes)) * 0.02).astype(np.float32)
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20240326, version, maxT, V, L, NH, C, Vp]
    with open(path, "wb") as f:
        f.write(header.tobytes())
        if version == 3:
            f.write(params.tobytes())
        else:
            bits = (params.view(np.uint32) >> 16).astype(np.uint16)  # truncation to bf16
            f.write(bits.tobytes())
            params = (bits.astype(np.uint32) << 16).view(np.float32)
    return params, sizes


def read_model_payload(path):
    raw = open(path, "rb").read()
    header = np.frombuffer(raw[:1024], dtype=np.int32)
    return header, np.frombuffer(raw[1024:], dtype=np.float32)


@pytest.mark.parametrize("version", [3, 5])
def test_import_llmc_model_and_export_dense(corpus, tmp_path, version):
    rng = np.random.default_rng(version)
    src = tmp_path / f"llmc_v{version}.bin"
    params, sizes = write_llmc_model(src, L=2, C=64, NH=2, V=50257, maxT=128, version=version, rng=rng)
    out = tmp_path / "export.bin"
    # lr 0: the weights pass through unchanged
    r = run(["-e", src, *data_args(corpus), "-b", 2, "-t", 32, "-x", 1, "-l", 0, "-v", 0, "-s", 0, "--export-dense", out])
    assert r.returncode == 0, r.stderr
    header, payload = read_model_payload(out)
    assert header[0] == 20240326 and header[1] == 3
    assert list(header[2:8]) == [128, 50257, 2, 2, 64, 50304]
    assert np.array_equal(payload, params)
    # with pruning (one-shot at step 0 to 50%): dead blocks export as zeros, live ones unchanged
    out2 = tmp_path / "export_sparse.bin"
    r = run(["-e", src, *data_args(corpus), "-b", 2, "-t", 32, "-x", 1, "-l", 0, "-v", 0, "-s", 0, "--sparsity", 0.5,
             "--block", 32, "--schedule", "oneshot", "--prune-start", 0, "--prune-end", 0, "--export-dense", out2])
    assert r.returncode == 0, r.stderr
    _, p2 = read_model_payload(out2)
    off = sum(sizes[:10])
    fcw = p2[off:off + sizes[10]].reshape(2, 256, 64)
    ref = params[off:off + sizes[10]].reshape(2, 256, 64)
    blocks = fcw.reshape(2, 8, 32, 2, 32).transpose(0, 1, 3, 2, 4)
    ref_blocks = ref.reshape(2, 8, 32, 2, 32).transpose(0, 1, 3, 2, 4)
    dead = np.all(blocks == 0, axis=(3, 4))
    assert dead.sum() == 2 * 8, f"half of each layer's 16 fc blocks pruned, got {dead.sum()}"
    assert np.array_equal(blocks[~dead], ref_blocks[~dead])
    # the pruned blocks are the ones of lowest L2 norm
    norms = np.sqrt((ref_blocks.astype(np.float64) ** 2).sum(axis=(3, 4)))
    for l in range(2):
        assert norms[l][dead[l]].max() <= norms[l][~dead[l]].min()
    non_mlp = np.r_[0:off, off + sizes[10]:off + sizes[10] + sizes[11]]
    assert np.array_equal(p2[non_mlp], params[non_mlp])


# ----------------------------------------------------------------------------- bad input

def expect_error(r, *needles):
    assert r.returncode != 0, f"expected failure, got rc 0:\n{r.stdout[-2000:]}"
    for n in needles:
        assert n in r.stderr, f"'{n}' not in stderr:\n{r.stderr}"


def test_bad_shards(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.integers(0, 50257, size=20000)
    cases = {
        "magic.bin": dict(tokens=good, magic=1234),
        "trunc.bin": dict(tokens=good, header_count=40000),
        "vocab.bin": dict(tokens=np.r_[good[:5000], 60000, good[5000:]]),
    }
    for name, kw in cases.items():
        write_shard(tmp_path / name, **kw)
    base = ["-e", "d2", "-b", 2, "-t", 32, "-x", 2, "-v", 0, "-s", 0, "-j", ""]
    expect_error(run(base + ["-i", tmp_path / "magic.bin"]), "magic.bin", "magic")
    expect_error(run(base + ["-i", tmp_path / "trunc.bin"]), "trunc.bin")
    expect_error(run(base + ["-i", tmp_path / "vocab.bin"]), "vocab.bin", "60000")
    expect_error(run(base + ["-i", tmp_path / "missing_*.bin"]), "missing_*.bin")
    expect_error(run(base + ["-i", tmp_path]), "not a regular file", "-i 'DIR/train_*.bin'")
    write_shard(tmp_path / "good.bin", tokens=good)
    write_shard(tmp_path / "val_small.bin", tokens=good[:50])  # one sample of B*T+1 = 65 tokens does not fit
    expect_error(run(base[:-2] + ["-i", tmp_path / "good.bin", "-j", tmp_path / "val_small.bin"]), "val_small.bin",
                 "--val-tokens")


def test_bad_flags_and_model_files(corpus, tmp_path):
    base = ["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-x", 2, "-v", 0, "-s", 0]
    expect_error(run(base + ["--frobnicate", 1]), "unknown option", "--frobnicate")
    expect_error(run(base + ["--sparsity", 1.0]), "--sparsity", "[0, 1)")
    expect_error(run(base + ["--sparsity", -0.1]), "--sparsity", "[0, 1)")
    expect_error(run(base + ["-b", "four"]), "-b", "integer")
    expect_error(run(base + ["--sparsity", 0.5, "--block", 48]), "block size 48 does not divide", "C = 128")
    expect_error(run(base + ["--schedule", "quartic"]), "quartic", "cubic|linear|oneshot")
    expect_error(run(["-e", tmp_path / "nope.bin", *data_args(corpus), "-x", 1]), "nope.bin")
    bad = tmp_path / "v99.bin"
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20240326, 99, 64, 50257, 2, 2, 64, 50304]
    bad.write_bytes(header.tobytes() + b"\0" * 4096)
    expect_error(run(["-e", bad, *data_args(corpus), "-x", 1]), "v99.bin", "version 99")
    trunc = tmp_path / "trunc_model.bin"
    write_llmc_model(trunc, L=1, C=64, NH=1, V=50257, maxT=64, version=3, rng=np.random.default_rng(1))
    data = trunc.read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    expect_error(run(["-e", trunc, *data_args(corpus), "-x", 1]), "trunc_model.bin", "truncated")
    expect_error(run(base + ["-y", 1]), "-o")
    r = run(base + ["--export-dense", tmp_path / "no_such_dir" / "m.bin"])
    expect_error(r, "--export-dense", "no_such_dir")
    assert not re.search(r"step +1/", r.stdout), "refused before the first step"


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited as ignored: writes fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_resume_keeps_or_overrides_score_and_scope(corpus, tmp_path):
    """A resume continues the checkpoint's score and ranking scope, and --score / --prune-scope given on
    the resume command line override them one by one (they were ignored unless a schedule flag was given)."""
    out = tmp_path / "ck"
    common = ["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0, "--sparsity", 0.5, "--block", 32,
              "--prune-start", 0, "--prune-end", 6, "--prune-every", 2, "-n", 2, "-o", out]
    r = run(common + ["-x", 2, "--score", "l1"])
    assert r.returncode == 0, r.stderr
    r = run(["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0, "-n", 2, "-o", out, "-x", 4, "-y", 1])
    assert r.returncode == 0, r.stderr
    assert "score l1, per-matrix ranking" in r.stdout, r.stdout
    r = run(["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0, "-n", 2, "-o", out, "-x", 6, "-y", 1,
             "--prune-scope", "global"])
    assert r.returncode == 0, r.stderr
    assert "score l1, global ranking" in r.stdout, r.stdout


def test_schedule_edges(corpus, tmp_path):
    """A schedule changed at resume whose last update is already behind still reaches --sparsity (one
    update at the first resumed step); a schedule ending after the run warns; -x 0 is an error; a late
    --prune-start alone is accepted (its default end follows it)."""
    out = tmp_path / "ck"
    base = ["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0, "--block", 32]
    r = run(base + ["--sparsity", 0.5, "--prune-start", 0, "--prune-end", 6, "--prune-every", 2, "-n", 4, "-o", out, "-x", 4])
    assert r.returncode == 0, r.stderr
    r = run(base + ["--sparsity", 0.9, "--prune-start", 0, "--prune-end", 3, "-n", 4, "-o", out, "-x", 6, "-y", 1])
    assert r.returncode == 0, r.stderr
    events = [l for l in open(out / "main.log") if "event:prune" in l]
    assert events and events[-1].startswith("s:4 ") and "sparsity 0.9" in events[-1], events
    r = run(base + ["--sparsity", 0.9, "--prune-start", 0, "--prune-end", 6, "--prune-every", 3, "-x", 6])
    assert r.returncode == 0, r.stderr
    assert "warning: the schedule's last mask update (step 6" in r.stdout, r.stdout
    expect_error(run(base + ["-x", 0]), "-x 0")
    r = run(base + ["--sparsity", 0.5, "--prune-start", 7, "-x", 10])
    assert r.returncode == 0, r.stderr
    assert "over steps 7..7" in r.stdout, r.stdout


def test_resume_dense_checkpoint_into_sparse(corpus, tmp_path):
    """A dense checkpoint resumed with --sparsity: weights and moments move into blocks (the mask checksum
    had made this a "different checkpoints" error). Before the first prune the blocked model computes
    what the dense one does: its losses follow an uninterrupted dense run's (the moments moved right)."""
    out = tmp_path / "ck"
    base = ["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0]
    r = run(base + ["-x", 2, "-n", 2, "-o", out])
    assert r.returncode == 0, r.stderr
    r = run(base + ["-x", 4, "-n", 2, "-o", out, "-y", 1, "--sparsity", 0.5, "--block", 32, "--prune-start", 5])
    assert r.returncode == 0, r.stderr
    assert "moved into blocks of 32" in r.stdout, r.stdout
    dense = run(base + ["-x", 4])
    assert dense.returncode == 0, dense.stderr

    def losses(text):
        return {int(k): float(v) for k, v in re.findall(r"step +(\d+)/4 \| loss ([0-9.]+)", text)}

    got, want = losses(r.stdout), losses(dense.stdout)
    assert set(got) == {3, 4} and {3, 4} <= set(want), (got, want)
    for k in (3, 4):
        assert abs(got[k] - want[k]) < 1e-4 * want[k], (k, got[k], want[k])
    r = run(base + ["-x", 6, "-n", 2, "-o", out, "-y", 1, "--sparsity", 0.5, "--block", 32, "--prune-start", 4,
                    "--prune-end", 4])
    assert r.returncode == 0 and "step     4 | prune sparsity 0.5000" in r.stdout, r.stdout + r.stderr


def test_keep_checkpoints_counts_the_final_one(corpus, tmp_path):
    """-nk 1 keeps exactly one complete checkpoint, the final off-grid one included (step 10 with -n 4:
    removing only step - nk*n had left 8 and 10)."""
    out = tmp_path / "ck"
    r = run(["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0, "-x", 10, "-n", 4, "-nk", 1, "-o", out])
    assert r.returncode == 0, r.stderr
    left = sorted(p for p in os.listdir(out) if p != "main.log")
    assert left == ["DONE_00000010", "model_00000010.bin", "state_00000010_00000.bin"], left


def test_new_run_over_old_checkpoint_never_looks_complete(corpus, tmp_path):
    """A new run (no -y) writing the same step into an old -o, failing after its model file replaced the
    old one: the old DONE marker must be gone, or -y 1 would resume the new weights with the old state."""
    out = tmp_path / "ck"
    common = ["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0, "-n", 3, "-o", out, "-x", 3]
    r = run(common)
    assert r.returncode == 0, r.stderr
    model, state = out / "model_00000003.bin", out / "state_00000003_00000.bin"
    assert os.path.exists(out / "DONE_00000003")
    msize, ssize = os.path.getsize(model), os.path.getsize(state)
    assert msize < ssize, "the test needs the state file to be the larger one"
    old_model = sha(model)
    limit = (msize + ssize) // 2  # the model file fits, the state file does not

    def limit_between():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = run(common + ["-l", "1e-2"], preexec_fn=limit_between)
    expect_error(r, "checkpoint at step 3 not written")
    assert sha(model) != old_model, "the new model file replaced the old one (the case this test is about)"
    assert not os.path.exists(out / "DONE_00000003"), "a DONE marker over a new model file and an old state file"


def test_failed_checkpoint_write_keeps_previous(corpus, tmp_path):
    """A checkpoint write that fails (here: the file-size limit, as on a full disk) leaves the previous one intact."""
    out = tmp_path / "ck"
    common = ["-e", "d2", *data_args(corpus), "-b", 2, "-t", 32, "-v", 0, "-s", 0, "--sparsity", 0.5, "--block", 32,
              "--prune-start", 0, "--prune-end", 4, "--prune-every", 2, "-n", 3, "-o", out]
    r = run(common + ["-x", 3])
    assert r.returncode == 0, r.stderr
    before = {p: sha(out / p) for p in os.listdir(out) if p != "main.log"}
    assert "DONE_00000003" in before
    r = run(common + ["-x", 6, "-y", 1], preexec_fn=_limit_file_size)
    expect_error(r, "checkpoint at step 6 not written", "previous checkpoint (step 3) is intact")
    after = {p: sha(out / p) for p in os.listdir(out) if p != "main.log"}
    assert after == before, "no new or changed files, no temporaries left behind"
    # and the intact checkpoint still resumes
    r = run(common + ["-x", 6, "-y", 1])
    assert r.returncode == 0, r.stderr
    assert os.path.exists(out / "DONE_00000006")
    if os.geteuid() != 0:  # root ignores directory permissions
        os.chmod(out, 0o555)
        try:
            r = run(common + ["-x", 9, "-y", 1])
            expect_error(r, "checkpoint at step 9 not written")
        finally:
            os.chmod(out, 0o755)
