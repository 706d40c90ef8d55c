# final figures of session 8 (run 99): kernels unchanged since session 7 (run 83) but for the
# compiled-out timeline instrument
BENCH_TIMEOUT=450 bash dev/scratch/run_final.sh
