# final figures of session 6 (kernels of 55232d5)
BENCH_TIMEOUT=300 bash dev/scratch/run_final.sh
