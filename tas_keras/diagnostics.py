"""Which loss term drives the student: per-term gradient norms on the student's weights.

An auxiliary branch (tas_branch's assistant, OFA's branches, FitNet's regressor) trains the student stages it
reads from. When its gradient there is orders of magnitude larger than the student's own CE, it decides
what those stages learn. These norms make that visible (tools/grad_norms.py) and calibrate tas_branch's
`branch_grad_scale="auto"`. Works on every backend (the gradients come from the backend's step module).
"""

import math

import keras
import numpy as np

from tas_keras.errors import InputError
from tas_keras.steps import group_gradients_for_backend


def _as_arrays(distiller, images, labels):
    return distiller.model_inputs(keras.ops.convert_to_tensor(images)), keras.ops.convert_to_tensor(labels)


def group_gradient_norms(distiller, batches, groups, variables=None):
    """Mean over `batches` ((images, labels) pairs) of each term's value, and for each group of terms
    (`{name: [terms]}`) the L2 norm of the gradient of their sum on `variables` (default: the
    student's trainable weights), split as (all weights, weights every group reaches).

    Returns ({term: value}, {group: {"grad_all", "grad_shared"}}, {"student_weights", "shared_weights", "batches"})."""
    variables = list(variables if variables is not None else distiller.student.trainable_variables)
    fn = group_gradients_for_backend()
    value_sums, norm_sums, count, shared_count = {}, {}, 0, 0
    for images, labels in batches:
        values, sq = fn(distiller, *_as_arrays(distiller, images, labels), groups, variables)
        shared = [i for i in range(len(variables)) if all(s[i] > 0 for s in sq.values())]
        shared_count = len(shared)
        for name, value in values.items():
            value_sums[name] = value_sums.get(name, 0.0) + value
        for name, s in sq.items():
            row = norm_sums.setdefault(name, np.zeros(2))
            row += (math.sqrt(sum(s)), math.sqrt(sum(s[i] for i in shared)))
        count += 1
    if not count:
        raise InputError("Gradient norms need at least one batch.")
    norms = {name: {"grad_all": row[0] / count, "grad_shared": row[1] / count} for name, row in norm_sums.items()}
    meta = {"student_weights": len(variables), "shared_weights": shared_count, "batches": count}
    return {k: v / count for k, v in value_sums.items()}, norms, meta


def loss_gradient_norms(distiller, batches):
    """Every loss term on its own: {term: {"value", "grad_all", "grad_shared"}} and the meta dict."""
    batches = list(batches)
    names = [n for n in distiller.loss_names if n.startswith("loss_")]  # the terms; not the total, not metrics
    values, norms, meta = group_gradient_norms(distiller, batches, {name: [name] for name in names})
    return {name: {"value": values[name], **norms[name]} for name in names}, meta


def format_table(norms, reference="loss_ce"):
    """Markdown table; `vs CE` divides each shared-weight norm by the reference term's."""
    ref = norms.get(reference, {}).get("grad_shared") or float("nan")
    lines = ["| term | value | grad norm, all student weights | grad norm, shared weights | vs CE |", "|---|---:|---:|---:|---:|"]
    for name, row in sorted(norms.items()):
        lines.append(f"| {name} | {row['value']:.3f} | {row['grad_all']:.4f} | {row['grad_shared']:.4f} | {row['grad_shared'] / ref:.2f}x |")
    return "\n".join(lines)
