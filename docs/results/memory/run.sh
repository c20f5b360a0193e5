#!/bin/bash
# Memory budget check (issue 16, target 5): 600 000 rows, d = 500, float32 .npy pair (1.2 GB), random k = 5.
set -x
cd /work/memtest
N=/work/main/.venv/bin/narrowrelu
[ -f data/X.npy ] || $N generate random --d 500 --k 5 --n 600000 --seed 3 --float32 -o data --truth truth.json
ls -la data
for mem in 512MB default; do
  extra=""; [ $mem != default ] && extra="--memory $mem"
  rm -f model-$mem.json
  /usr/bin/time -v $N fit data --k 5 --seed 0 $extra -o model-$mem.json > fit-$mem.log 2> time-$mem.log
  grep -E "Maximum resident|Elapsed|User time" time-$mem.log
  /work/main/.venv/bin/python -c "import narrowrelu as nr; t=nr.ReLUNetwork.load('truth.json'); m=nr.ReLUNetwork.load('model-$mem.json'); print('$mem relative error', nr.metrics.relative_error(m,t))"
done
