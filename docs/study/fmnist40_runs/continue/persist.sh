#!/usr/bin/env bash
# Copies the study's finished runs (config, summary, metrics) and its teachers into the repo, so a
# later session on a new machine can put them back into /work/study/fmnist and go on.
src=/work/study/fmnist; dst=/work/main/docs/study/fmnist40_runs
cd "$src" || exit 1
# the runs here ran on this machine: say so in their summaries (the frozen checkout does not)
(cd /work/main && TF_CPP_MIN_LOG_LEVEL=3 /work/main/.venv/bin/python docs/study/fmnist40_runs/continue/stamp_machine.py "$src")
for s in */*/seed*/summary.json; do
  d=$(dirname "$s"); mkdir -p "$dst/$d"
  cp "$d/config.yaml" "$d/summary.json" "$d/metrics.csv" "$dst/$d/"
done
for t in teachers/*/teacher.keras; do
  [ -f "$t" ] || continue; [ -f "$dst/$t" ] && continue; mkdir -p "$dst/$(dirname "$t")"
  cp "$(dirname "$t")/teacher_metrics.csv" "$dst/$(dirname "$t")/"
  /work/main/.venv/bin/python /work/study/strip_teacher.py "$t" "$dst/$t" 2>&1 | tail -1
done
ls -R "$dst" | head -50
