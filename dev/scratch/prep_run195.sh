# Run on this (CPU) machine before run 195 (independent of run 194's patch; a device call of its own):
# applies dev/scratch/linegroups_run195.patch (forward variants 36 / 37, line groups of three block
# rows on 128-token tiles at 2 CTAs per SM / 192-token tiles at one), builds bench_bsr and
# test_bsr_kernels with it, packs them as build/lg3/{bench_bsr,test_bsr_kernels} into
# build/run195_bins.tar.gz, and takes the patch out of the tree again. Then call the device with
# run195.sh, carrying build/run195_bins.tar.gz. The two patches touch the same lines: run
# prep_run194.sh first, take its patch out (git apply -R dev/scratch/deep_a_run194.patch; its tarball
# stays), then this.
set -e
cd "$(dirname "$0")/../.."
git apply --check dev/scratch/linegroups_run195.patch   # stops here if the tree moved under the patch
git apply dev/scratch/linegroups_run195.patch
trap 'git apply -R dev/scratch/linegroups_run195.patch' EXIT
make -j2 build/dev/bench_bsr build/test/test_bsr_kernels
grep -A3 "Compiling entry function '_Z19bsr_spmm_lg3" build/cu/sparse/bsr_spmm.ptxas | grep -E "registers|spill"
mkdir -p build/lg3
cp build/dev/bench_bsr build/test/test_bsr_kernels build/lg3/
tar czf build/run195_bins.tar.gz build/lg3/bench_bsr build/lg3/test_bsr_kernels
ls -la build/run195_bins.tar.gz
