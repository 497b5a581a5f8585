"""Prints docs/study.md's study table rows (test / train, seeds; the best main variant of each pair in bold)
and the paired differences from a results.json of this study (old names, today's in the labels)."""

import json
import sys

d = json.load(open(sys.argv[1]))
t = d["table"]
labels = [("scratch", "scratch"), ("kd", "kd"), ("ofa", "ofa"), ("fbt", "`tas`, published (`fbt`)"),
          ("tas", "`tas_branch` (`tas`)"), ("dkd", "dkd"), ("dist", "dist"), ("rsd", "rsd"), ("crd", "crd"),
          ("fbt_no_tf", "`tas` without the teacher-fused term (`fbt_no_tf`)"),
          ("fbt_no_nce", "`tas` without InfoNCE (`fbt_no_nce`)"), ("fbt_no_ofa", "`tas` without the OFA term (`fbt_no_ofa`)")]
pairs = [p for p in ("convnext_mlp", "mixer_resnet", "convnext_deit", "vit_resnet") if p in t]
main = [v for v, _ in labels[:9]]
best = {p: max((c["mean"], v) for v, c in t[p]["variants"].items() if v in main and c["mean"] is not None)[1] for p in pairs}
head = "| variant (name in the records) | " + " | ".join(
    f"{p} (teacher {' / '.join(f'{x:.2f}' for x in t[p].get('teacher_top1s') or [t[p]['teacher_top1']])}): test / train | seeds" for p in pairs) + " |"
print(head); print("|---|" + "---:|---:|" * len(pairs))
for v, label in labels:
    cells = []
    for p in pairs:
        c = t[p]["variants"].get(v)
        if not c or c["mean"] is None:
            cells += ["", "0"]; continue
        m = f"{c['mean']:.2f}" + (f" ± {c['std']:.2f}" if c["std"] is not None else "")
        m = f"**{m}**" if best[p] == v else m
        tr = f"{c['train_mean']:.1f}" if c.get("train_mean") is not None else "-"
        cells += [f"{m} / {tr}", str(c["n"])]
    print(f"| {label} | " + " | ".join(cells) + " |")
print()
for k, v in d["paired_differences"].items():
    print(k, {p: (round(x["mean"], 2), x["n"], x["wins"], [round(c, 2) for c in x["ci95"]] if x.get("ci95") else None, [round(z, 2) for z in x["diffs"]]) for p, x in v.items()})
