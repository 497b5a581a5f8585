"""Study results: mean +- std tables (Markdown + JSON), paired differences between variants, and a PNG
(accuracy bars with error bars, curves)."""

import pathlib
import statistics

from tas_keras.atomic import atomic_json, atomic_write


def aggregate(records):
    """{pair: {"teacher_top1": first, "teacher_top1s": every distinct one, "variants": {variant: {mean, std, n,
    values, method, options}}}} (top-1 in %).
    A run whose loss became NaN (record["diverged"]) is counted in the cell's `diverged`, not averaged."""
    table = {}
    for r in records:
        pair = table.setdefault(r["pair"], {"teacher_model": r["teacher_model"], "student_model": r["student_model"],
                                             "teacher_top1s": [], "variants": {}})
        if r.get("teacher_top1") is not None and 100 * r["teacher_top1"] not in pair["teacher_top1s"]:
            # a pair's runs share one teacher unless it was trained again (e.g. a study moved to a new machine)
            pair["teacher_top1s"].append(100 * r["teacher_top1"])
        cell = pair["variants"].setdefault(r["variant"], {"method": r["method"], "options": r["options"], "values": [], "seeds": [],
                                                          "train_values": [], "diverged": 0})
        if r.get("diverged"):
            cell["diverged"] += 1
            continue
        cell["values"].append(100 * r["student_top1"])
        cell["seeds"].append(r["seed"])
        cell["train_values"].append(None if r.get("student_train_top1") is None else 100 * r["student_train_top1"])
    for pair in table.values():
        pair["teacher_top1"] = pair["teacher_top1s"][0] if pair["teacher_top1s"] else None
        scratch = pair["variants"].get("scratch")
        for cell in pair["variants"].values():
            values = cell["values"]
            cell["n"] = len(values)
            cell["mean"] = statistics.fmean(values) if values else None
            cell["std"] = statistics.stdev(values) if len(values) > 1 else None  # one seed has no spread to report
            train = cell["train_values"]
            cell["train_mean"] = statistics.fmean(train) if train and None not in train else None
            if scratch and scratch["values"] and values:
                cell["gain_over_scratch"] = cell["mean"] - statistics.fmean(scratch["values"])
    return table


def markdown_table(table, variants, title="student top-1 (%)", floor=None):
    """Rows: variants; columns: pairs; cells: mean +- std (n), the gain over scratch and the mean top-1
    on the student's own (unaugmented) training images. floor: a row label and its top-1 (%), e.g. a
    logistic regression on the same training images, the accuracy every student must beat."""
    pairs = [p for p in table if any(v in table[p]["variants"] for v in variants)]
    head = f"| {title} | " + " | ".join(f"{p}<br>{table[p]['teacher_model']} -> {table[p]['student_model']}" for p in pairs) + " |"
    lines = [head, "|---|" + "---:|" * len(pairs)]
    lines.append("| teacher | " + " | ".join(" / ".join(f"{t:.2f}" for t in table[p]["teacher_top1s"]) for p in pairs) + " |")
    if floor:
        lines.append(f"| {floor[0]} | " + " | ".join(f"{floor[1]:.2f}" for _ in pairs) + " |")
    most = max(cell["n"] + cell["diverged"] for p in pairs for cell in table[p]["variants"].values())
    for variant in variants:
        cells = []
        for p in pairs:
            cell = table[p]["variants"].get(variant)
            if cell is None:
                cells.append("")
                continue
            if cell["mean"] is None:
                cells.append(f"diverged [{cell['diverged']} of {cell['diverged']}]")
                continue
            text = f"{cell['mean']:.2f}" + ("" if cell["std"] is None else f" ± {cell['std']:.2f}")
            if "gain_over_scratch" in cell and variant != "scratch":
                text += f" ({cell['gain_over_scratch']:+.2f})"
            if cell["n"] < most or cell["n"] == 1:
                text += f" [n={cell['n']}]"  # one seed, or fewer than the rest of the table
            if cell["diverged"]:
                text += f" [{cell['diverged']} of {cell['n'] + cell['diverged']} diverged]"
            if cell.get("train_mean") is not None:
                text += f"; train {cell['train_mean']:.1f}"
            cells.append(text)
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_differences(records, variant, reference):
    """{pair: {diffs, seeds, mean, std, wins, n, ci95}}: test top-1 (points) of `variant` minus
    `reference` on each seed both finished. Runs of one seed share the teacher, the training images,
    the student's initialisation and the order of batches, so the seed-to-seed spread they share
    cancels in the difference. ci95: the Student-t 95% interval of the mean difference (n >= 2);
    wins: the seeds where `variant` is ahead."""
    from scipy import stats  # a dependency of scikit-learn, which the base install has

    by_key = {(r["pair"], r["variant"], r["seed"]): r["student_top1"] for r in records if not r.get("diverged")}
    result = {}
    for pair in dict.fromkeys(r["pair"] for r in records):
        seeds = sorted(seed for (p, v, seed) in by_key if p == pair and v == variant and (pair, reference, seed) in by_key)
        if not seeds:
            continue
        diffs = [100 * (by_key[pair, variant, seed] - by_key[pair, reference, seed]) for seed in seeds]
        mean = statistics.fmean(diffs)
        std = statistics.stdev(diffs) if len(diffs) > 1 else None
        half = None if std is None else stats.t.ppf(0.975, len(diffs) - 1) * std / len(diffs) ** 0.5
        result[pair] = {"diffs": diffs, "seeds": seeds, "n": len(diffs), "mean": mean, "std": std, "wins": sum(d > 0 for d in diffs),
                        "ci95": None if half is None else [mean - half, mean + half]}
    return result


def comparison_table(paired, pairs):
    """Markdown: a row per {(variant, reference): paired_differences(...)} entry, a column per pair:
    mean ± std of the paired differences, [ci95 low, high], and the seeds where the variant is ahead."""
    lines = ["| paired difference (points) | " + " | ".join(pairs) + " |", "|---|" + "---:|" * len(pairs)]
    for (variant, reference), found in paired.items():
        cells = []
        for pair in pairs:
            d = found.get(pair)
            if d is None:
                cells.append("")
                continue
            text = f"{d['mean']:+.2f}"
            if d["std"] is not None:
                text += f" ± {d['std']:.2f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]"
            cells.append(text + f"; ahead on {d['wins']} of {d['n']}")
        lines.append(f"| {variant} − {reference} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(records, meta, out_dir, main_variants, ablation_variants=(), comparisons=()):
    """results.json, results.md and results.png in out_dir; returns the aggregated table.
    comparisons: (variant, reference) pairs whose paired differences get their own table."""
    table = aggregate(records)
    paired = {(v, r): paired_differences(records, v, r) for v, r in comparisons}
    atomic_json(out_dir / "results.json", {"meta": meta, "table": table, "paired_differences": {f"{v} - {r}": d for (v, r), d in paired.items()},
                                           "runs": records})
    floor = ("logistic regression", meta["floor_top1"]) if meta.get("floor_top1") is not None else None
    parts = [f"# {meta.get('title', 'Accuracy study')}", "", _meta_lines(meta), "", "## Methods", "",
             markdown_table(table, main_variants, floor=floor), ""]
    if ablation_variants:
        parts += ["## Ablations", "", markdown_table(table, ablation_variants, floor=floor), ""]
    if comparisons:
        parts += ["## Paired differences", "", comparison_table(paired, list(table)), "",
                  ("Test top-1 of the first variant minus the second on the same seed (same teacher, training images, student "
                   "initialisation and batch order): mean ± sample std over seeds, the Student-t 95% interval of the mean, "
                   "and the seeds on which the first is ahead."), ""]
    parts += [("Cells: mean ± sample std over seeds of the student's top-1 on the full test split; in brackets the gain over "
              "scratch (same student, same data, no teacher); then the mean top-1 on the student's own training images "
              "(unaugmented) at the end."), ""]
    if floor:
        parts += [f"Floor: {meta['floor_method']}.", ""]
    text = "\n".join(parts)
    atomic_write(out_dir / "results.md", lambda path: pathlib.Path(path).write_text(text))
    plot(table, records, main_variants, list(ablation_variants), out_dir / "results.png")
    return table


def _meta_lines(meta):
    keys = ("command", "dataset", "train_examples", "test_examples", "epochs", "seeds", "machine", "backend", "wall_minutes", "train_minutes")
    lines = [f"- {k}: `{meta[k]}`" if k == "command" else f"- {k}: {meta[k]}" for k in keys if meta.get(k) is not None]
    lines += [f"- included: {i['runs']} runs' records from {i['file']}" for i in meta.get("included_records", ())]
    if len(meta.get("runs_per_machine", {})) > 1:
        lines.append("- runs per machine: " + "; ".join(f"{m}: {n}" for m, n in meta["runs_per_machine"].items()))
    return "\n".join(lines)


def plot(table, records, main_variants, ablation_variants, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("The study's plot needs matplotlib: pip install matplotlib (or the package's [test] extra).") from err
    import numpy as np

    pairs = list(table)
    variants = main_variants + [v for v in ablation_variants if v not in main_variants]
    fig = plt.figure(figsize=(max(10, 4 * len(pairs)), 8.5), constrained_layout=True)
    grid = fig.add_gridspec(2, len(pairs))
    bars = fig.add_subplot(grid[0, :])
    width = 0.8 / max(1, len(variants))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lows = []
    for i, variant in enumerate(variants):
        xs, means, stds = [], [], []
        for j, p in enumerate(pairs):
            cell = table[p]["variants"].get(variant)
            if cell and cell["mean"] is not None:
                xs.append(j + (i - (len(variants) - 1) / 2) * width)
                means.append(cell["mean"])
                stds.append(cell["std"] or 0.0)
        lows += [m - s for m, s in zip(means, stds)]
        bars.bar(xs, means, width, yerr=stds, capsize=3, label=variant, color=colors[i % len(colors)],
                 hatch="//" if variant in ablation_variants else None)
    teachers = {j: table[p]["teacher_top1"] for j, p in enumerate(pairs) if table[p]["teacher_top1"] is not None}
    for j, top1 in teachers.items():
        bars.hlines(top1, j - 0.45, j + 0.45, colors="k", linestyles="--", label="teacher" if j == min(teachers) else None)
    heights = [*teachers.values(), *lows] or [100.0]
    bars.set_ylim(max(0, min(lows or heights) - 3), min(100, max(heights) + 2))
    bars.set_xticks(range(len(pairs)), [f"{p}\n{table[p]['teacher_model']} -> {table[p]['student_model']}" for p in pairs], fontsize=8)
    bars.set_ylabel("student top-1 (%), mean ± std over seeds")
    bars.legend(ncol=min(len(variants) + 1, 6), fontsize=8, loc="lower right")
    for j, p in enumerate(pairs):
        ax = fig.add_subplot(grid[1, j])
        for i, variant in enumerate(variants):
            curves = [r["val_acc_curve"] for r in records if r["pair"] == p and r["variant"] == variant and r["val_acc_curve"]]
            if not curves:
                continue
            length = min(len(c) for c in curves)
            data = 100 * np.array([[value for _, value in c[:length]] for c in curves])
            epochs = np.array([epoch for epoch, _ in curves[0][:length]])
            ax.plot(epochs, data.mean(0), label=variant, color=colors[i % len(colors)], linestyle=":" if variant in ablation_variants else "-", marker="o" if length < 4 else None)
            ax.fill_between(epochs, data.mean(0) - data.std(0), data.mean(0) + data.std(0), alpha=0.15, color=colors[i % len(colors)])
        ax.set_title(f"{p}: test top-1 per epoch", fontsize=9)
        ax.set_xlabel("epoch")
        finals = [table[p]["variants"][v]["mean"] for v in variants if v in table[p]["variants"]]
        finals = [f for f in finals if f is not None] or [50.0]  # every run of the pair diverged
        ax.set_ylim(min(finals) - 8, max(finals) + 2)
        ax.grid(alpha=0.3)
    fig.axes[1].set_ylabel("test top-1 (%)")
    atomic_write(path, lambda target: fig.savefig(target, dpi=110, format="png"))
    plt.close(fig)
