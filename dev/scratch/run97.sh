# session 8, run 97: stream-K weight gradient in token order (segments from arithmetic, a clean wgmma
# loop per segment) against bd73349 (old): run 95's A/B on that build.
bash dev/scratch/run95.sh
