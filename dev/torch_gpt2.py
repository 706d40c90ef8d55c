"""
torch_gpt2.py - GPT-2 in PyTorch, the peer our GPU trainer is measured and checked against.

Two modes (GPU machine with PyTorch; not part of CI):

  bench:  tokens/s of a dense training step, the way people run PyTorch for speed:
          torch.compile, scaled_dot_product_attention (flash), fused AdamW, bf16 autocast.
            python3 dev/torch_gpt2.py bench --depth 12 --batch 64 --seq 1024 --steps 20

  check:  loss and parameter gradients of a model file (our dense v3 or block-sparse v6
          format) on a batch, in fp32, compared with gradients written by test_gpt2
          (GPT2_DUMP_DIR): an implementation independent of ours.
            python3 dev/torch_gpt2.py check DUMP_DIR

  eval:   validation loss of a model file (dense v3 or block-sparse v6) in fp32 on a token shard,
          read the way the trainers' validation loader reads it (consecutive windows of B*T+1
          tokens from the start of the shard): an independent check of the val loss we log.
            python3 dev/torch_gpt2.py eval MODEL.bin VAL_SHARD.bin --batch 64 --seq 1024 --steps 16

The model follows GPT-2 / llm.c: learned positions, pre-layernorm blocks, GELU (tanh),
weight-tied classifier over the padded vocabulary (padded logits masked out of the loss).
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEPTHS = {12: (768, 12), 24: (1024, 16), 36: (1280, 20), 48: (1600, 25)}


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln1 = nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.attproj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C)
        self.fcproj = nn.Linear(4 * C, C)
        self.fc_mask = None      # block masks expanded to the weight shape (sparse models)
        self.fcproj_mask = None

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attproj(y.transpose(1, 2).contiguous().view(B, T, C))
        h = self.ln2(x)
        w_fc = self.fc.weight if self.fc_mask is None else self.fc.weight * self.fc_mask
        h = F.gelu(F.linear(h, w_fc, self.fc.bias), approximate="tanh")
        w_p = self.fcproj.weight if self.fcproj_mask is None else self.fcproj.weight * self.fcproj_mask
        return x + F.linear(h, w_p, self.fcproj.bias)


class GPT(nn.Module):
    def __init__(self, L, C, NH, V, Vp, maxT):
        super().__init__()
        self.V, self.Vp = V, Vp
        self.wte = nn.Embedding(Vp, C)
        self.wpe = nn.Embedding(maxT, C)
        self.blocks = nn.ModuleList(Block(C, NH) for _ in range(L))
        self.lnf = nn.LayerNorm(C)

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = F.linear(self.lnf(x), self.wte.weight)
        if targets is None:
            return logits, None
        logits = logits[..., : self.V]  # padded columns are not part of the softmax
        loss = F.cross_entropy(logits.float().reshape(-1, self.V), targets.reshape(-1))
        return logits, loss


# ----------------------------------------------------------------------------- files

def read_model(path):
    """Our model file (version 3 dense fp32 or 6 block-sparse fp32) -> (config, dense tensors, masks)."""
    raw = open(path, "rb").read()
    h = np.frombuffer(raw[:1024], dtype=np.int32)
    assert h[0] == 20240326, f"{path}: not a model file"
    version, maxT, V, L, NH, C, Vp = (int(x) for x in h[1:8])
    sizes = [Vp * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C, L * C, L * C,
             L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C]
    payload = np.frombuffer(raw[1024:], dtype=np.float32 if version in (3, 6) else None)
    masks = None
    if version == 3:
        tensors, off = [], 0
        for s in sizes:
            tensors.append(payload[off:off + s]); off += s
    elif version == 6:
        bs = int(h[8])
        nnz = [int(x) for x in h[16:16 + 2 * L]]
        tensors, off = [], 0
        for i, s in enumerate(sizes):
            if i in (10, 12):
                tensors.append(None)
                continue
            tensors.append(payload[off:off + s]); off += s
        byte_off = 1024 + 4 * off
        masks = []
        for m in range(2 * L):
            rows, cols = (4 * C, C) if m % 2 == 0 else (C, 4 * C)
            g = (rows // bs) * (cols // bs)
            masks.append(np.frombuffer(raw[byte_off:byte_off + g], dtype=np.uint8).reshape(rows // bs, cols // bs))
            byte_off += g
        vals = np.frombuffer(raw[byte_off:], dtype=np.float32)
        fcw = np.zeros((L, 4 * C, C), np.float32)
        fcpw = np.zeros((L, C, 4 * C), np.float32)
        voff = 0
        for m in range(2 * L):
            dst = fcw[m // 2] if m % 2 == 0 else fcpw[m // 2]
            for r, c in zip(*np.nonzero(masks[m])):  # block-row-major = np.nonzero order
                dst[r * bs:(r + 1) * bs, c * bs:(c + 1) * bs] = vals[voff:voff + bs * bs].reshape(bs, bs)
                voff += bs * bs
            assert np.count_nonzero(masks[m]) == nnz[m]
        tensors[10], tensors[12] = fcw.ravel(), fcpw.ravel()
        masks = (bs, masks)
    else:
        raise SystemExit(f"{path}: version {version} not handled here")
    return dict(L=L, C=C, NH=NH, V=V, Vp=Vp, maxT=maxT), tensors, masks


def load_into(model, cfg, tensors, masks, device):
    L, C = cfg["L"], cfg["C"]
    t = [torch.from_numpy(np.array(x, dtype=np.float32)) for x in tensors]
    with torch.no_grad():
        model.wte.weight.copy_(t[0].view(cfg["Vp"], C))
        model.wpe.weight.copy_(t[1].view(cfg["maxT"], C))
        for l, b in enumerate(model.blocks):
            b.ln1.weight.copy_(t[2].view(L, C)[l]); b.ln1.bias.copy_(t[3].view(L, C)[l])
            b.qkv.weight.copy_(t[4].view(L, 3 * C, C)[l]); b.qkv.bias.copy_(t[5].view(L, 3 * C)[l])
            b.attproj.weight.copy_(t[6].view(L, C, C)[l]); b.attproj.bias.copy_(t[7].view(L, C)[l])
            b.ln2.weight.copy_(t[8].view(L, C)[l]); b.ln2.bias.copy_(t[9].view(L, C)[l])
            b.fc.weight.copy_(t[10].view(L, 4 * C, C)[l]); b.fc.bias.copy_(t[11].view(L, 4 * C)[l])
            b.fcproj.weight.copy_(t[12].view(L, C, 4 * C)[l]); b.fcproj.bias.copy_(t[13].view(L, C)[l])
        model.lnf.weight.copy_(t[14]); model.lnf.bias.copy_(t[15])
    if masks is not None:
        bs, ms = masks
        for l, b in enumerate(model.blocks):
            expand = lambda m: torch.from_numpy(np.kron(m, np.ones((bs, bs), np.float32))).to(device)
            b.fc_mask, b.fcproj_mask = expand(ms[2 * l]), expand(ms[2 * l + 1])


def flat_grads(model, cfg, masks):
    """Gradients in our flat order; for sparse models the fc/fcproj gradients of live blocks, packed."""
    L, C = cfg["L"], cfg["C"]
    b = model.blocks
    g = lambda p: p.grad.detach().float().cpu().numpy()
    parts = [g(model.wte.weight).ravel(), g(model.wpe.weight).ravel()]
    per = lambda f: np.concatenate([f(x).ravel() for x in b])
    dense = [per(lambda x: g(x.ln1.weight)), per(lambda x: g(x.ln1.bias)), per(lambda x: g(x.qkv.weight)),
             per(lambda x: g(x.qkv.bias)), per(lambda x: g(x.attproj.weight)), per(lambda x: g(x.attproj.bias)),
             per(lambda x: g(x.ln2.weight)), per(lambda x: g(x.ln2.bias)), per(lambda x: g(x.fc.weight)),
             per(lambda x: g(x.fc.bias)), per(lambda x: g(x.fcproj.weight)), per(lambda x: g(x.fcproj.bias))]
    lnf = [g(model.lnf.weight).ravel(), g(model.lnf.bias).ravel()]
    names = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b", "fcw", "fcb",
             "fcprojw", "fcprojb", "lnfw", "lnfb"]
    tensors = parts + dense + lnf
    if masks is None:
        return list(zip(names, tensors))
    bs, ms = masks
    out = [(n, t) for i, (n, t) in enumerate(zip(names, tensors)) if i not in (10, 12)]
    for m in range(2 * L):
        w = g(b[m // 2].fc.weight) if m % 2 == 0 else g(b[m // 2].fcproj.weight)
        blocks = [w[r * bs:(r + 1) * bs, c * bs:(c + 1) * bs].ravel() for r, c in zip(*np.nonzero(ms[m]))]
        out.append((f"{'fc' if m % 2 == 0 else 'fcproj'}[{m // 2}]", np.concatenate(blocks) if blocks else np.zeros(0)))
    return out


def check(dump_dir):
    """Compare test_gpt2's dumps (model file, batch, our CPU and GPU gradients) with PyTorch fp32."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    failures = 0
    for tag in ("dense", "sparse"):
        mpath = os.path.join(dump_dir, f"{tag}_model.bin")
        if not os.path.exists(mpath):
            print(f"missing {mpath}: run test_gpt2 with GPT2_DUMP_DIR={dump_dir} first"); return 1
        cfg, tensors, masks = read_model(mpath)
        batch = np.fromfile(os.path.join(dump_dir, f"{tag}_batch.bin"), dtype=np.int32)
        B, T = int(batch[0]), int(batch[1])
        x = torch.from_numpy(batch[2:2 + B * T].reshape(B, T).astype(np.int64)).to(device)
        y = torch.from_numpy(batch[2 + B * T:].reshape(B, T).astype(np.int64)).to(device)
        model = GPT(cfg["L"], cfg["C"], cfg["NH"], cfg["V"], cfg["Vp"], cfg["maxT"]).to(device)
        load_into(model, cfg, tensors, masks, device)
        _, loss = model(x, y)
        loss.backward()
        ours = {}
        for who in ("cpu", "gpu"):
            raw = np.fromfile(os.path.join(dump_dir, f"{tag}_{who}_grads.bin"), dtype=np.float32)
            ours[who] = (float(raw[0]), raw[1:])
        ref = flat_grads(model, cfg, masks)
        print(f"{tag}: loss torch {loss.item():.6f}  cpu {ours['cpu'][0]:.6f}  gpu {ours['gpu'][0]:.6f}")
        for who, tol_loss, tol in (("cpu", 1e-4, 1e-3), ("gpu", 2e-2, 5e-2)):
            if abs(ours[who][0] - loss.item()) > tol_loss:
                failures += 1; print(f"FAIL {tag} {who} loss differs by {abs(ours[who][0] - loss.item()):.3g} (limit {tol_loss})")
            off, worst = 0, 0.0
            for name, r in ref:
                o = ours[who][1][off:off + r.size]; off += r.size
                err = np.linalg.norm(o - r) / max(np.linalg.norm(r), 1e-30)
                worst = max(worst, err)
                if err > tol:
                    failures += 1; print(f"FAIL {tag} {who} grad {name}: rel L2 error {err:.3g} (limit {tol})")
            assert off == ours[who][1].size, f"{tag} {who}: {ours[who][1].size} gradient entries, torch has {off}"
            print(f"{tag}: {who} gradients vs torch fp32: worst rel L2 error {worst:.2e} (limit {tol})")
    print("torch reference check:", "FAILED" if failures else "all checks passed")
    return 1 if failures else 0


def evaluate(model_path, shard, B, T, steps, chunk):
    """Mean fp32 loss over `steps` batches of B sequences of T tokens: batch k is tokens
    [k*B*T, (k+1)*B*T + 1) of the shard, as in the trainers' (unshuffled) validation loader."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg, tensors, _ = read_model(model_path)  # dead blocks are already zeros in the dense tensors
    model = GPT(cfg["L"], cfg["C"], cfg["NH"], cfg["V"], cfg["Vp"], cfg["maxT"]).to(device)
    load_into(model, cfg, tensors, None, device)
    model.eval()
    header = np.fromfile(shard, dtype="<i4", count=256)
    if header[0] != 20240520:
        raise SystemExit(f"{shard}: not a token shard (magic {header[0]})")
    ntok = int(header[2])
    tokens = np.memmap(shard, dtype="<u2", mode="r", offset=1024, shape=(ntok,))
    steps = min(steps, (ntok - 1) // (B * T))
    if steps < 1 or B % chunk:
        raise SystemExit(f"{shard}: {ntok} tokens, need at least B*T+1 = {B * T + 1}; --batch must be a multiple of --chunk")
    losses = []
    with torch.no_grad():
        for k in range(steps):
            buf = torch.from_numpy(tokens[k * B * T: (k + 1) * B * T + 1].astype(np.int64)).to(device)
            x, y = buf[:-1].view(B, T), buf[1:].view(B, T)
            # equal-sized chunks: the mean of their means is the batch mean
            parts = [model(x[i:i + chunk], y[i:i + chunk])[1].item() for i in range(0, B, chunk)]
            losses.append(sum(parts) / len(parts))
    print(f"torch fp32 eval of {model_path}: val loss {sum(losses) / len(losses):.6f} over {steps} batch(es) "
          f"of {B}x{T} tokens from {shard}")


def bench(depth, B, T, steps, compile_model):
    C, NH = DEPTHS[depth]
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    model = GPT(depth, C, NH, 50257, 50304, 1024).cuda()
    with torch.no_grad():  # GPT-2's init (std 0.02), so the printed loss starts near ln(V) like ours
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.0, fused=True)
    step_fn = torch.compile(model) if compile_model else model
    x = torch.randint(0, 50257, (B, T), device="cuda")
    y = torch.randint(0, 50257, (B, T), device="cuda")
    times = []
    for i in range(steps):
        torch.cuda.synchronize()
        t0 = time.time()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss = step_fn(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.time() - t0)
    steady = sorted(times[steps // 2:])[len(times[steps // 2:]) // 2]
    tok = B * T / steady
    print(f"torch d{depth} B={B} T={T}: median step {steady * 1e3:.1f} ms, {tok:.0f} tok/s, "
          f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB (loss {loss.item():.3f})")
    return tok


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--depth", type=int, default=12, choices=sorted(DEPTHS))
    b.add_argument("--batch", type=int, default=64)
    b.add_argument("--seq", type=int, default=1024)
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--no-compile", action="store_true")
    c = sub.add_parser("check")
    c.add_argument("dump_dir")
    e = sub.add_parser("eval")
    e.add_argument("model")
    e.add_argument("shard")
    e.add_argument("--batch", type=int, default=64)
    e.add_argument("--seq", type=int, default=1024)
    e.add_argument("--steps", type=int, default=16)
    e.add_argument("--chunk", type=int, default=8, help="sequences per forward pass (memory)")
    a = ap.parse_args()
    if a.mode == "bench":
        bench(a.depth, a.batch, a.seq, a.steps, not a.no_compile)
    elif a.mode == "eval":
        evaluate(a.model, a.shard, a.batch, a.seq, a.steps, a.chunk)
    else:
        sys.exit(check(a.dump_dir))
