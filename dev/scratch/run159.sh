# session 12, run 159: the final commit (kernels of ca24a05 + the tensor-map mend): tests, target rows
# three times
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
for rep in 1 2 3; do ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc|^device" | cut -c1-200; done
