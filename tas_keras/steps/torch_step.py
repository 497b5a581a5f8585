"""PyTorch step: one forward, backward(), the optimizer's update under no_grad.

With `distiller.xla` (on this backend: torch.compile) the forward -- the teacher's targets and the
losses -- is compiled (Inductor fuses the elementwise work around the backend's matmuls and
convolutions) and with it, through AOTAutograd, the backward that backward() runs; the optimizer's
update is compiled apart (eager, Keras' update took ~3x as long: Python around PyTorch's foreach
kernels). Two functions, not the whole step: torch.compile breaks its graph at backward() anyway, and
the step compiled whole (Keras' jit_compile) compiled each part twice, since the first step's
gradients are None (docs/speed.md, "Keras' torch backend, compiled").

The forward assigns no variable: what it would write (BatchNorm statistics, CRD's memory, DKD's step
count) it returns, and the step writes it after backward(). Compiled, PyTorch (2.13) writes such an
assignment into the variable in place, and the backward, recomputing from the variable, reads the new
value: DKD's ramp and CRD's negatives took the next step's values (tested).
"""

import inspect
import warnings
import weakref

import keras
import torch

from tas_keras.steps.common import eval_metrics, group_losses, step_inputs, total_loss

_UPDATED = weakref.WeakSet()  # optimizers that have applied an update


def _forward(distiller, x, y, state):
    """(losses, logits, the state variables' values after the forward), the variables left as they were."""
    with keras.StatelessScope(state_mapping=[(v, v.value) for v in state]) as scope:
        with torch.no_grad():
            targets = distiller.teacher_targets(x)
        losses, logits = distiller.compute_losses(x, y, targets, 0, training=True)
    return losses, logits, [scope.get_current_value(v) for v in state]


def _assigned_state(distiller):
    """The variables the forward may assign: the non-trainable ones but the (frozen, inference-mode) teacher's."""
    if distiller not in _STATE:
        teacher = {id(v) for v in distiller.teacher.variables}
        _STATE[distiller] = [v for v in distiller.non_trainable_variables if id(v) not in teacher]
    return _STATE[distiller]


def _update(distiller, grads, variables):
    with torch.no_grad():
        distiller.optimizer.apply(grads, variables)


_REGIONS = weakref.WeakKeyDictionary()  # distiller -> {fn: torch.compile(fn), its own region}
_STATE = weakref.WeakKeyDictionary()  # distiller -> the variables its forward may assign
# PyTorch keeps one cache per function, capped at torch._dynamo.config.recompile_limit (8) entries; each
# distiller adds one (its guards read the distiller's weights). Where torch.compile can isolate a region's
# recompiles (PyTorch 2.13 can), each distiller gets its own, so a process may train any number of them
# compiled; elsewhere the ninth distiller of a process runs eagerly (PyTorch warns).
_ISOLATE = {"isolate_recompiles": True} if "isolate_recompiles" in inspect.signature(torch.compile).parameters else {}


def _compiled(distiller, fn):
    """torch.compile(fn) for this distiller, made once. The distiller is an argument, not captured, so that
    the region holds no reference to it: it is freed when dropped, and its regions with it (tested)."""
    regions = _REGIONS.setdefault(distiller, {})
    if fn not in regions:
        regions[fn] = torch.compile(fn, **_ISOLATE)
    return regions[fn]


def _run(fn, distiller, *args, eager=False):
    """fn(distiller, *args), compiled when the distiller asks for it (eager under run_eagerly, for debugging)."""
    if distiller.xla and not distiller.run_eagerly and not eager:
        with warnings.catch_warnings():
            # Compiling Keras' dtype promotion, PyTorch warns (with a stack) that it traces through the
            # functools.lru_cache there; the cached functions are pure, so the warning says nothing to a user.
            warnings.filterwarnings("ignore", message="Dynamo detected a call to a `functools.lru_cache`", category=UserWarning)
            return _compiled(distiller, fn)(distiller, *args)
    return fn(distiller, *args)


def train_step(distiller, data):
    x, y = step_inputs(distiller, data)
    distiller.zero_grad()
    state = _assigned_state(distiller)
    losses, logits, values = _run(_forward, distiller, x, y, state)
    total = total_loss(losses)
    distiller.optimizer.scale_loss(total).backward()
    for variable, value in zip(state, values):
        if value is not variable.value:
            variable.assign(value)
    variables = distiller.trainable_weights
    # The optimizer's first update runs eagerly: it sets Python state (Keras caches which variables take
    # weight decay) that would make the compiled update recompile at the second step.
    first = distiller.optimizer not in _UPDATED
    _run(_update, distiller, [v.value.grad for v in variables], variables, eager=first)
    _UPDATED.add(distiller.optimizer)
    return distiller.update_metrics(
        {k: v.detach() for k, v in losses.items()}, total.detach(), y, logits.detach(), x.shape[0]
    )


def test_step(distiller, data):
    return eval_metrics(distiller, data)


def group_gradient_sq_norms(distiller, x, y, groups, variables):
    """({term: value}, {group: [squared gradient norm per variable]}) for one batch."""
    with torch.no_grad():
        targets = distiller.teacher_targets(x)
    losses, _ = distiller.compute_losses(x, y, targets, 0, training=True)
    grouped = group_losses(losses, groups)
    params = [v.value for v in variables]
    norms = {}
    for name, value in grouped.items():
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        norms[name] = [0.0 if g is None else float(torch.sum(g.float() ** 2)) for g in grads]
    return {k: float(v.detach()) for k, v in losses.items()}, norms
