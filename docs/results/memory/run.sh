#!/bin/bash
# Memory budget check (issue 16, target 5): 600 000 rows, d = 500, float32 .npy pair (1.2 GB), random k = 5.
# usage: run.sh SRC TAG [fit args]: peak RSS of `narrowrelu fit` with the checkout SRC first on PYTHONPATH.
SRC=$1; TAG=$2; shift 2
mkdir -p /work/memtest && cd /work/memtest
export OPENBLAS_NUM_THREADS=1 PYTHONPATH=$SRC
N="python -m narrowrelu"
[ -f data/X.npy ] || $N generate random --d 500 --k 5 --n 600000 --seed 3 --float32 -o data --truth truth.json
/usr/bin/time -v $N fit data --k 5 --seed 0 -o model-$TAG.json "$@" > fit-$TAG.log 2> time-$TAG.log
grep -E "Maximum resident|Elapsed|User time" time-$TAG.log
python -c "import narrowrelu as nr; t=nr.ReLUNetwork.load('truth.json'); m=nr.ReLUNetwork.load('model-$TAG.json'); print('$TAG relative error', nr.metrics.relative_error(m,t))"
