# session 14, run 171: cross pairs only down to the SMs' count (bsr_dw_pairs max_pairs). The same
# commands as run 170 (tests, then the A/B against build/probe/bench_old over 7 C 1600 0.9 mask draws,
# alternated); only build/dev/bench_bsr and build/test/test_bsr_kernels were rebuilt in between.
bash "$(dirname "$0")/run170.sh"
