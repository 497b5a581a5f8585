#!/usr/bin/env bash
# The CNN -> CNN pair's report (today's names), from the same frozen worktree as its runs.
/work/study/run_cnn.sh --report-only \
  --compare tas:scratch --compare tas:kd --compare tas:ofa --compare tas:rsd --compare tas:tas_branch \
  --compare tas_no_nce:tas --compare tas_no_nce:kd --compare tas_branch:kd --compare ofa:kd --compare kd:scratch
