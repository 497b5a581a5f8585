"""Prints the ms per KD step of every run.sh JSON in this folder, round by round, and each path against
PyTorch eager of the same round: python docs/bench/2026-12-06-amx-torch215/table.py"""
import glob
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def ms(path):
    """{label: ms per step} of one JSON, ours (per XLA mode) or PyTorch's."""
    data = json.load(open(path))
    if "torch" in data:  # tools/torch_reference.py
        return {"torch.compile" if data["compile"] else "PyTorch eager": 1000 * data["runs"][0]["kd_step"]["median_s"]}
    mode = {False: "eager", True: "compiled"} if data["backend"] == "torch" else {False: "XLA off", True: "XLA on"}
    name = "Keras torch" if data["backend"] == "torch" else "TensorFlow"
    return {f"{name} {mode[run['xla']]}": 1000 * run["distill_step"]["median_s"] for run in data["runs"]}


rounds = {}
for path in sorted(glob.glob(os.path.join(HERE, "*.json"))):
    match = re.fullmatch(r"(?:(round\d+)_)?(tf|keras_torch|torch_eager|torch_compile)_(fp32|bf16)_run(\d)\.json", os.path.basename(path))
    if match:
        prefix, _, precision, run = match.groups()
        key = (precision, f"{prefix or 'round12'}/run{run}")
        rounds.setdefault(key, {}).update(ms(path))
for (precision, label), times in sorted(rounds.items()):
    eager = times.get("PyTorch eager")
    cells = ", ".join(f"{name} {value:.1f}" + (f" ({eager / value:.2f}x)" if eager and name != "PyTorch eager" else "")
                      for name, value in times.items())
    print(f"{precision} {label}: {cells}")

# versions.sh: bfloat16, Keras' torch backend compiled against torch.compile, per PyTorch version and round
for path in sorted(glob.glob(os.path.join(HERE, "versions_keras_torch_compiled_*.json"))):
    version, run = re.fullmatch(r"versions_keras_torch_compiled_(.+)_run(\d)\.json", os.path.basename(path)).groups()
    ours = ms(path)["Keras torch compiled"]
    theirs = ms(os.path.join(HERE, f"versions_torch_compile_{version}_run{run}.json"))["torch.compile"]
    print(f"bf16 torch {version} run{run}: Keras torch compiled {ours:.1f}, torch.compile {theirs:.1f} ({theirs / ours:.2f}x)")
# the compiled step timed after the eager one in one process (run.sh's order) or alone
for path in sorted(glob.glob(os.path.join(HERE, "order_*.json"))):
    print(f"bf16 {os.path.basename(path)[6:-5]}: " + ", ".join(f"{k} {v:.1f}" for k, v in ms(path).items()))
