"""PyTorch scaled_dot_product_attention timings at the shape of dev/bench_layers.cu (peer numbers).
Usage: python3 dev/bench_sdpa.py [B] [C] [NH]"""
import sys, torch
import torch.nn.functional as F
B = int(sys.argv[1]) if len(sys.argv) > 1 else 16
C = int(sys.argv[2]) if len(sys.argv) > 2 else 768
NH = int(sys.argv[3]) if len(sys.argv) > 3 else 12
T, hs = 1024, C // NH
q, k, v = (torch.randn(B, NH, T, hs, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
flops = 4 * B * NH * T * T * hs / 2
from torch.nn.attention import sdpa_kernel, SDPBackend
for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]:
    try:
        with sdpa_kernel(be):
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            do = torch.randn_like(o)
            for _ in range(3):
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True); o.backward(do)
            torch.cuda.synchronize()
            import triton.testing as tt
            f = tt.do_bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), return_mode="median")
            fb = tt.do_bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(do), return_mode="median")
            print(f"torch sdpa {name:6s} fwd {f:.3f} ms {flops/f/1e9:.1f} TFLOP/s   fwd+bwd {fb:.3f} ms, bwd ~{fb-f:.3f} ms {2.5*flops/(fb-f)/1e9:.1f} TFLOP/s")
    except Exception as e:
        print(f"torch sdpa {name}: {e}")
