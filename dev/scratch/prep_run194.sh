# Run on this (CPU) machine before run 194: applies the variant-33..35 patch, builds the two kernel
# binaries and the trainer, and links the trainer as it was before b369529 (main split into
# setup_run / train_step / ...) against the same objects, so run194.sh can check the two trainers
# print the same losses. Then call the device with run194.sh, carrying build/run194_bins.tar.gz (the six
# binaries: bench_bsr, test_bsr_kernels, test_layers, test_gpt2, train_gpt2cu and the old trainer, 18 MB
# gzipped against 83 MB, over the 64 MB a call carries) and .cache/smoke.
set -e
cd "$(dirname "$0")/../.."
# applied once: a second call finds it applied; a patch that no longer applies stops here
git apply -R --check dev/scratch/deep_a_run194.patch 2>/dev/null || git apply dev/scratch/deep_a_run194.patch
make -j2 build/dev/bench_bsr build/test/test_bsr_kernels build/test/test_layers build/test/test_gpt2 train_gpt2cu
mkdir -p build/old
# (renames since: the cuBLASLt choice type, now shared by layers/ and sparse/ in core/lt_gemm.cu; adamw_update
# took sr_first for ZeRO-1 slices, 0 for a whole tensor)
git show b369529~1:train_gpt2.cu | sed 's/MatmulAlgoChoice/LtGemmChoice/g; s/sr_seed, g->stream)/sr_seed, 0, g->stream)/' > build/old/train_gpt2_pre_b369529.cu
# the trainer's own link line (printed by make as if train_gpt2.cu were new), with the old source and output
link=$(make -n -W train_gpt2.cu train_gpt2cu | tail -1)
link=${link/train_gpt2.cu /build/old/train_gpt2_pre_b369529.cu -I. }
link=${link/-o train_gpt2cu/-o build/old/train_gpt2cu_pre_b369529}
eval "$link"
ls -la build/old/train_gpt2cu_pre_b369529 train_gpt2cu
[ -f .cache/smoke/train_000000.bin ] || echo "warning: .cache/smoke is missing (tokenized smoke shards; see run191.sh)"
tar czf build/run194_bins.tar.gz build/dev/bench_bsr build/test/test_bsr_kernels build/test/test_layers build/test/test_gpt2 \
    train_gpt2cu build/old/train_gpt2cu_pre_b369529
ls -la build/run194_bins.tar.gz
