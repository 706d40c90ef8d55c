# final figures of session 7 (runs 78 and 83)
BENCH_TIMEOUT=450 bash dev/scratch/run_final.sh
