# session 7, run 79: line heads (one load for the start of each forward / dX CTA), A/B against 22773bd, alternated
bash dev/scratch/ab_fwd_dx_c1600.sh
