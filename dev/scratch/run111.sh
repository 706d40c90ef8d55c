# session 9, run 111: dW variant 12 (TMA single blocks) with -DBSR_DW_BULK_PF=D: each CTA of a split
# bulk-prefetches (cp.async.bulk.prefetch.L2) its 1/nnz share of the whole dY and X token rows D steps
# ahead, so DRAM sees contiguous streams instead of 128-byte slab rows. C 1600 bs 64.
for sp in 0.9 0.8; do for v in "" _bpf2 _bpf4 _bpf8 _bpf16; do
  echo "== sp $sp ${v:-main}"
  ./build/dev/bench_bsr$v --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "dW (single-5st|single-tma) " | grep -E "splits +[123]:"
done; done
