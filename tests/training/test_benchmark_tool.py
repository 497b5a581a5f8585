"""tools/benchmark.py runs and reports every part of the step (numbers are measured, not asserted)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from ..quick import jax_subprocess_env
from .tool_runs import in_process, tool

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_benchmark_reports_the_step_breakdown(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--pair", "convnext_mlp", "--profile", "small",
         "--method", "kd", "--batch-size", "16", "--steps", "2", "--warmup", "0", "--xla", "off", "--replicas", "1", "2", "--json", str(out),
         "--parts", "teacher_forward", "student_step", "distill_step", "train_on_batch", "run_callbacks"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # the 2 replicas are logical CPU devices, also on a GPU machine
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    one, two = report["runs"]
    assert (one["replicas"], two["replicas"]) == (1, 2) and len(report["devices"]) == 2
    for part in ("teacher_forward", "student_step", "distill_step", "train_on_batch"):
        assert one[part]["median_s"] > 0 and one[part]["images_per_s"] > 0 and one[part]["peak_rss_mib"] > 0
    for run in (one, two):
        assert run["distill_step"]["traces"] == 0 and run["student_step"]["traces"] == 0  # no retracing between steps
    assert "teacher_forward" not in two and "train_on_batch" not in two and two["distill_step"]["median_s"] > 0
    # the step with a training run's callbacks (and nothing of them left behind)
    assert one["run_callbacks"]["median_s"] > 0 and one["run_callbacks"]["traces"] == 0 and "run_callbacks" not in two
    assert one["run_callbacks"]["callbacks"] == ["StopOnNonFiniteLoss", "EpochLog", "EpochTensorBoard", "EpochCheckpoint", "TimeForecast"]
    assert report["matmul_peak"]["gflops"] > 0 and report["matmul_peak"]["dtype"] == "float32"
    assert report["machine"].endswith(f"{os.cpu_count()} CPUs") and report["machine"] in proc.stdout
    onednn = report["tensorflow_onednn"]  # whether TensorFlow's oneDNN CPU kernels ran (tas_keras/__init__.py)
    assert isinstance(onednn, bool) and f"TensorFlow oneDNN {'on' if onednn else 'off'}" in proc.stdout
    flops = report["gflops_per_batch"]
    assert flops["teacher_forward"] > 0 and flops["student_forward"] > 0
    assert flops["distill_step"] > flops["teacher_forward"] + flops["student_forward"]  # backward + assistants counted
    assert report["input_pipeline_images_per_s"] > 0
    # no XLA: TensorFlow's oneDNN kernel throughout
    assert report["depthwise"] == "auto" and one["depthwise"] == two["depthwise"] == {"teacher": "conv", "training_step": "conv"}
    assert "distill_step" in proc.stdout and "overhead" in proc.stdout and "% of the ceiling" in proc.stdout
    assert "WARNING:tensorflow" not in proc.stderr  # the FLOP count's TF1 deprecation notice is muted


def test_benchmark_under_mixed_bfloat16_traces_tensorflow_ops(tmp_path):
    """CPUs with AVX-512 BF16 / AMX and GPUs train in bfloat16: every part reads its bfloat16 results back
    (TensorFlow cannot hand a bfloat16 tensor to numpy; the tool used to crash with a raw ValueError).
    --trace on TensorFlow sums the step's TensorFlow ops by kind, by op type and by layer over blocks."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--pair", "convnext_mlp", "--profile", "small", "--method", "kd",
         "--batch-size", "8", "--steps", "1", "--warmup", "0", "--xla", "off", "--set", "precision=mixed_bfloat16", "--json", str(out),
         "--parts", "teacher_forward", "student_step", "distill_step", "--trace", str(tmp_path / "trace"), "--trace-steps", "2"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["precision"] == "mixed_bfloat16" and report["matmul_peak"]["dtype"] == "bfloat16"
    (run,) = report["runs"]
    assert all(run[part]["median_s"] > 0 for part in ("teacher_forward", "student_step", "distill_step"))
    trace = run["distill_trace"]
    assert trace["steps"] == 2 and 0 < trace["busy_ms"] <= trace["window_ms"] <= trace["ops_ms"] * 10
    assert trace["by_kind"]["matmul"] > 0 and trace["by_kind"]["elementwise"] > 0 and trace["by_kind"]["convolution"] > 0
    ops = {op: kind for op, kind, _, _ in trace["by_op"]}
    assert any("MatMul" in op and kind == "matmul" for op, kind in ops.items()) and ops.get("Mul") == "elementwise"
    names = [name for name, _, _, _ in trace["top"]]
    assert any("blockN/" in name for name in names) and not any(name.startswith("StatefulPartitionedCall") for name in names)
    assert "top ops" in proc.stdout and "device time per step" in proc.stdout
    # JAX's reader and TensorFlow's proto read the same events from the file
    pytest.importorskip("jax")
    from tas_keras.experiments.device_trace import _device_events, _read_xspace, _TensorflowXSpace

    (xplane,) = (tmp_path / "trace").rglob("*.xplane.pb")
    raw = xplane.read_bytes()
    assert sorted(_device_events(_TensorflowXSpace(raw))) == sorted(_device_events(_read_xspace(raw)))


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow", reason="a TensorFlow step option")
def test_benchmark_times_the_elementwise_xla_step_whose_trace_shows_xla_clusters_beside_tensorflow_matmuls(tmp_path, capsys):
    """--xla elementwise: the step's elementwise work runs as XLA clusters (_XlaRun in the trace) while
    its matmuls stay TensorFlow's oneDNN kernels (_MklMatMul on this CPU's oneDNN build, MatMul without it)."""
    import keras

    try:
        proc = in_process(capsys, tool("benchmark"), "--pair", "convnext_mlp", "--profile", "small", "--method", "kd", "--batch-size", "8",
                          "--steps", "1", "--warmup", "0", "--xla", "elementwise", "--set", "precision=mixed_bfloat16",
                          "--parts", "distill_step", "--trace", str(tmp_path / "trace"), "--trace-steps", "2", "--json", str(tmp_path / "b.json"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = json.loads((tmp_path / "b.json").read_text())["runs"]
    assert run["xla"] == "elementwise" and run["distill_step"]["median_s"] > 0 and run["distill_step"]["traces"] == 0
    ops = {op: kind for op, kind, _, _ in run["distill_trace"]["by_op"]}
    assert "_XlaRun" in ops and any(kind == "matmul" and "MatMul" in op for op, kind in ops.items()), ops
    assert "1    elem distill_step" in proc.stdout


def test_benchmark_on_jax_without_tensorflow_times_chosen_parts_and_traces_the_step(tmp_path):
    """As on the GPU machines we measure on (JAX, no TensorFlow): --parts and --trace work there, and
    the same KD step through keras.distillation.Distiller is timed beside ours; --prime-autotuner runs there."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text('import sys\nsys.modules["tensorflow"] = None  # import tensorflow fails\n')
    out = tmp_path / "bench.json"
    # XLA dumps the compiled steps' HLO, as tools/gpu_benchmark.sh has it do (no compilation cache: a cached
    # program is not compiled, so nothing would be dumped)
    dump = f"{jax_subprocess_env()['XLA_FLAGS']} --xla_dump_to={tmp_path / 'hlo'} --xla_dump_hlo_module_re=.*train_step.*"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--pair", "convnext_mlp", "--profile", "small", "--method", "kd",
         "--batch-size", "8", "--steps", "2", "--warmup", "0", "--parts", "distill_step", "run_callbacks", "keras_distiller", "--trace", str(tmp_path / "trace"),
         "--trace-steps", "2", "--steps-per-execution", "2", "--depthwise", "conv", "--prime-autotuner", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env=jax_subprocess_env(CUDA_VISIBLE_DEVICES="", PYTHONPATH=f"{site}{os.pathsep}{ROOT}", XLA_FLAGS=dump, JAX_ENABLE_COMPILATION_CACHE="false"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    assert report["prime_autotuner"] is True  # one depthwise convolution ran before the step compiled (a GPU lever)
    assert report["steps_per_execution"] == 2 and run["depthwise"] == {"teacher": "conv", "training_step": "conv"}  # the flag overrides auto
    assert set(run) >= {"distill_step", "distill_trace"} and not {"teacher_forward", "student_step", "train_on_batch"} & set(run)
    assert run["keras_distiller"]["median_s"] > 0 and "keras_distiller" in proc.stdout  # Keras' own Distiller, same models
    # a run's callbacks, but TensorBoard needs TensorFlow
    assert run["run_callbacks"]["callbacks"] == ["StopOnNonFiniteLoss", "EpochLog", "EpochCheckpoint", "TimeForecast"]
    trace = run["distill_trace"]
    assert 0 < trace["busy_ms"] <= trace["window_ms"] and trace["by_kind"]["matmul"] > 0 and trace["top"]
    assert "device time per step" in proc.stdout
    assert report["tensorflow_onednn"] is None and "oneDNN" not in proc.stdout  # no TensorFlow here
    # the trace's kernels (XLA ops here) named by the layers they compute, from the dumped HLO
    from tas_keras.experiments.device_trace import format_summary, summarize

    (xplane,) = (tmp_path / "trace").rglob("*.xplane.pb")
    hlo = max((tmp_path / "hlo").glob("*jit_train_step*after_optimizations.txt"), key=lambda p: p.stat().st_size)
    summary = summarize(xplane, 2, hlo)
    layers = [source["layers"] for source in summary["sources"].values()]
    assert any("convnext_micro_features/stage" in line for line in layers)  # the teacher's layers
    assert any("resmlp_micro_patch4_32_features/block" in line and "(backward)" in line for line in layers)  # the student's gradients
    printed = format_summary(summary)
    assert "      from " in printed and " GB/s" in printed


def test_trace_kinds_and_busy_time():
    from tas_keras.experiments.device_trace import _busy_ns, group_name, kind_of, op_of

    assert kind_of("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64") == "matmul"
    assert kind_of("cudnn_infer_depthwise_conv") == "convolution" and kind_of("add_convert_fusion.23") == "elementwise fusion"
    assert kind_of("input_reduce_fusion_3") == "reduction" and kind_of("transpose_copy.4") == "copy / transpose"
    assert _busy_ns([(0, 10), (5, 12), (20, 25)]) == 17  # overlapping kernels count once
    # TensorFlow ops: the type decides the kind, whatever the scope says ("dwconv/mul" is elementwise)
    op = "StatefulPartitionedCall/StatefulPartitionedCall_1/gradient_tape/convnext_features_1/stage2_block7_1/dwconv/mul/Mul:Mul"
    assert kind_of(op) == "elementwise" and op_of(op) == "Mul"
    assert group_name(op) == "gradient_tape/convnext_features/stageN_blockN/dwconv/mul/Mul:Mul"
    assert kind_of("dense/Tensordot/MatMul:_MklMatMul") == "matmul" and kind_of("fc1/BiasAdd/BiasAddGrad:BiasAddGrad") == "reduction"
    assert kind_of("x/transpose:_MklTranspose") == "copy / transpose" and kind_of("stem/Conv2D:_MklNativeFusedConv2D") == "convolution"
    assert op_of("fusion.23") == "fusion" and group_name("fusion.23") == "fusion.23"  # XLA / kernel names stay as they are


def test_gpu_kernels_sort_into_kinds_the_same_for_xla_cudnn_and_torch_compile():
    """Names from the H200 traces (docs/gpu_runs): cuDNN's convolutions are implicit GEMMs, cuBLAS' newer
    matmuls are nvjet kernels, torch.compile's fusions are Triton kernels."""
    from tas_keras.experiments.device_trace import kind_of, kinds_of

    conv = "sm80_xmma_fprop_implicit_gemm_indexed_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize64x64x64_stage4_g16"
    assert kind_of(conv) == "convolution" and kind_of("void tensorTransformGeneric<__nv_bfloat16, (cudnnKernelDataType_t)0>") == "convolution"
    assert kind_of("nvjet_sm90_tst_192x128_64x5_1x2_h_bz_coopB_NNT") == "matmul" and kind_of("gemm_fusion_dot_111") == "matmul"
    assert kind_of("void cutlass::Kernel2<cutlass_80_tensorop_bf16_s16816gemm_bf16_256x128_32x3_tn_align2>") == "matmul"
    assert kind_of("triton_per_fused__to_copy_convolution_native_layer_norm_permute_4") == "reduction"  # a fused norm, not a conv
    assert kind_of("triton_poi_fused_gelu_view_9") == "elementwise fusion" and kind_of("loop_convert_fusion_9") == "elementwise fusion"
    assert kinds_of([("conv2d_c1_k1_nhwc_specialized", 2.0, 18), ("nvjet_sm90_tst", 1.0, 3), ("triton_poi_fused_gelu", 0.5, 1)]) == {
        "convolution": 2.0, "matmul": 1.0, "elementwise fusion": 0.5}


def test_the_busy_window_leaves_out_fits_copy_only_lead_in_and_tail():
    """fit() copies state and batches to the device before its first step: that is no step's time, so
    the window runs from the first to the last compute kernel (the H200 trace read 41% busy with it)."""
    from tas_keras.experiments.device_trace import summarize_events

    ms = 1_000_000
    events = [("MemcpyH2D", 0, 1 * ms, "h2d"), ("fusion.1", 100 * ms, 8 * ms, "compute"), ("MemcpyH2D", 109 * ms, 1 * ms, "h2d"),
              ("fusion.1", 110 * ms, 8 * ms, "compute"), ("MemcpyD2H", 150 * ms, 1 * ms, "d2h")]
    summary = summarize_events(events, steps=2)
    assert summary["window_ms"] == 9 and summary["busy_ms"] == 8.5 and summary["busy_share"] == pytest.approx(17 / 18)
    assert summary["by_kind"] == {"elementwise fusion": 8, "copy / transpose": 0.5}  # the in-window copy only


def _run(capsys, name, *args):
    """A file-reading tool (no model, no device) in this process: a subprocess would cost its imports."""
    return in_process(capsys, tool(name), *map(str, args))


def _kind_table(stdout):
    """The lines of the by-kind comparison: its header, then a line per kind."""
    lines = stdout.splitlines()
    return lines[next(i for i, line in enumerate(lines) if "by kind, ms per step" in line):]


def test_trace_summary_sets_the_step_beside_torch_compiles_kernels(tmp_path, capsys):
    """tools/trace_summary.py --compare on the H200 run's own trace and results (docs/gpu_runs)."""
    run = ROOT / "docs" / "gpu_runs" / "h200_2026-11-29"
    proc = _run(capsys, "trace_summary", run / "kd.xplane.pb.gz", "--steps", "3", "--top", "0", "--compare", run / "results.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split()[0]: line.split()[-3:] for line in _kind_table(proc.stdout)[1:]}  # first word of the kind: its three numbers
    ours, theirs, difference = map(float, rows["convolution"])
    assert ours > 2 * theirs and difference == pytest.approx(ours - theirs, abs=0.02)  # the teacher's depthwise convolutions
    assert float(rows["busy"][1]) == pytest.approx(21.59, abs=0.01)  # torch.compile's kernel time per step, as recorded
    # or beside another trace of ours (here the same one: every difference is zero)
    header, *rows = _kind_table(_run(capsys, "trace_summary", run / "kd.xplane.pb.gz", "--steps", "3", "--top", "0", "--compare", run / "kd.xplane.pb.gz").stdout)
    assert header.split()[-3:] == ["kd", "kd", "difference"]
    assert all(float(line.split()[-1]) == 0 for line in rows)
    (tmp_path / "other.json").write_text('{"kd": {"ms": 1}}')
    proc = _run(capsys, "trace_summary", run / "kd.xplane.pb.gz", "--compare", tmp_path / "other.json")
    assert proc.returncode == 2 and proc.stderr.strip().endswith("with its timm_compile part.") and "Traceback" not in proc.stderr


def test_hlo_kernels_name_a_fusions_layers_and_bytes_as_a_gpu_kernel_spells_it():
    from tas_keras.experiments.hlo_sources import hlo_kernels

    text = """HloModule jit_train_step, is_scheduled=true

%fused_computation.17 (param_0: bf16[128,56,56,96], param_1: bf16[96]) -> bf16[128,56,56,96] {
  %param_0 = bf16[128,56,56,96]{3,2,1,0} parameter(0)
  %param_1 = bf16[96]{0} parameter(1)
  %broadcast.3 = bf16[128,56,56,96]{3,2,1,0} broadcast(%param_1), dimensions={3}, metadata={op_name="jit(train_step)/jvp(convnext_tiny_features)/stage1_block2/layer_scale/mul"}
  ROOT %multiply.5 = bf16[128,56,56,96]{3,2,1,0} multiply(%param_0, %broadcast.3), metadata={op_name="jit(train_step)/jvp(convnext_tiny_features)/stage1_block2/layer_scale/mul"}
}

ENTRY %main.9 (Arg_0.1: bf16[128,56,56,96], Arg_1.2: bf16[96]) -> bf16[128,56,56,96] {
  %Arg_0.1 = bf16[128,56,56,96]{3,2,1,0} parameter(0)
  %Arg_1.2 = bf16[96]{0} parameter(1)
  ROOT %loop_multiply_fusion.17 = bf16[128,56,56,96]{3,2,1,0} fusion(%Arg_0.1, %Arg_1.2), kind=kLoop, calls=%fused_computation.17
}
"""
    kernels = hlo_kernels(text)
    assert kernels["loop_multiply_fusion_17"] == kernels["loop_multiply_fusion.17"]
    assert kernels["loop_multiply_fusion_17"].layers == "convnext_tiny_features/stage1_block2/layer_scale: mul"
    assert kernels["loop_multiply_fusion_17"].bytes == 2 * (2 * 128 * 56 * 56 * 96) + 2 * 96  # the map in and out, the scale in
    assert "Arg_0.1" not in kernels  # no op name, nothing to say


def test_conv_algorithms_read_the_autotuners_picks_from_the_h200_steps_hlo():
    """The stored H200 KD step: XLA picked engine 22 with a 148 MiB workspace for the nine stage-3
    depthwise convolutions and engine 5 without one for the other stages (README, the second GPU run)."""
    from tas_keras.experiments.hlo_sources import conv_algorithms, read_hlo

    picks = conv_algorithms(read_hlo(ROOT / "docs" / "gpu_runs" / "h200_2026-11-30" / "kd.hlo.txt.gz"))
    depthwise = {pick.shape: pick for pick in picks if pick.kind == "forward" and pick.layers[0].endswith("/dwconv")}
    assert set(depthwise) == {"bf16[128,56,56,96]", "bf16[128,28,28,192]", "bf16[128,14,14,384]", "bf16[128,7,7,768]"}
    stage3 = depthwise["bf16[128,14,14,384]"]
    assert (stage3.engine, stage3.workspace, len(stage3.layers)) == (22, 154742800, 9)
    assert stage3.layers[0] == "convnext_tiny_features/stage3_block1/dwconv" and stage3.layers[-1].endswith("stage3_block9/dwconv")
    assert all((pick.engine, pick.workspace, len(pick.layers)) == (5, 0, 3) for shape, pick in depthwise.items() if pick is not stage3)
    assert sum(len(pick.layers) for pick in picks) == 24  # 18 depthwise, stem and 3 downsamplings; the student's patch embedding twice
    assert any(pick.layers == ["resmlp_12_224_features/stem (backward)"] for pick in picks)


def test_trace_summary_lists_the_convolution_picks_from_hlo_alone(capsys):
    proc = _run(capsys, "trace_summary", "--hlo", ROOT / "docs" / "gpu_runs" / "h200_2026-11-30" / "tas.hlo.txt.gz")
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(line for line in proc.stdout.splitlines() if "stage3_block1/dwconv" in line)
    assert line.split()[:4] == ["forward", "bf16[128,14,14,384]", "22", "147.6"] and line.endswith("stage3_block9/dwconv (9)")
    assert "backward filter" in proc.stdout  # the fused assistant's projector trains: its patch embedding's weight gradient
    proc = _run(capsys, "trace_summary")
    assert proc.returncode == 2 and "--hlo FILE" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run(capsys, "trace_summary", "--hlo", ROOT / "docs" / "gpu_runs" / "h200_2026-11-30" / "tas.hlo.txt.gz", "--compare", "results.json")
    assert proc.returncode == 2 and "give the trace too" in proc.stderr and "Traceback" not in proc.stderr


def _autotune_entry(shape, groups, algo, workspace, target="convForward"):
    """One entry of XLA's text-format AutotuneResults, as --xla_gpu_dump_autotune_results_to writes it
    (its HLO is quoted, with braces and escaped quotes inside)."""
    knobs = "      tuning_knobs {\n        key: 2\n        value: 5\n      }\n" if workspace else ""
    return f'''results {{
  device: "CUDA: 9.0, Cores: 132, GPU clock: 1.98 GHz, Memory bandwidth: 4800 GB/s, L2 cache: 60 MB"
  hlo: "(bf16[{shape}]{{3,2,1,0}}, u8[0]{{0}}) custom-call(bf16[{shape}]{{3,2,1,0}}, bf16[7,7,1,384]{{1,0,2,3}}), window={{size=7x7 pad=3_3x3_3}}, dim_labels=b01f_01io->b01f, feature_group_count={groups}, custom_call_target=\\"__cudnn${target}\\", backend_config={{\\"cudnn_conv_backend_config\\":{{\\"activation_mode\\":\\"kNone\\"}}}}"
  result {{
    scratch_bytes: {workspace}
    run_time {{
      nanos: 90000
    }}
    algorithm {{
      algo_id: {algo}
{knobs}      workspace_size {{
        value: {workspace}
      }}
    }}
  }}
  version: 3
}}
'''


def test_pin_depthwise_algorithm_gives_every_depthwise_convolution_the_pick_without_workspace(tmp_path, capsys):
    from tas_keras.experiments.autotune_results import depthwise_results

    text = "version: 3\n" + "".join([
        _autotune_entry("128,56,56,96", 96, 5, 0),
        _autotune_entry("128,14,14,384", 384, 22, 154742800),
        _autotune_entry("128,14,14,384", 1, 10, 104333328),  # a dense convolution with a workspace: left alone
        _autotune_entry("128,14,14,384", 384, 62, 4129040, target="convBackwardFilter"),  # not forward: left alone
    ])
    (tmp_path / "tuned.textproto").write_text(text)
    proc = _run(capsys, "pin_depthwise_algorithm", tmp_path / "tuned.textproto", tmp_path / "pinned.textproto")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pinned 1" in proc.stdout and "bf16[128,14,14,384]" in proc.stdout
    pinned = (tmp_path / "pinned.textproto").read_text()
    assert [(r.shape, r.engine, r.workspace) for r in depthwise_results(pinned)] == [("bf16[128,56,56,96]", 5, 0), ("bf16[128,14,14,384]", 5, 0)]
    assert pinned.count("algo_id: 10") == 1 and pinned.count("algo_id: 62") == 1 and "algo_id: 22" not in pinned
    assert pinned.count('hlo: "') == 4 and pinned.count("feature_group_count=384") == 2  # the keys (device, HLO) are kept
    # nothing to pin: says so and writes nothing; a bad output name is a one-line error
    (tmp_path / "fine.textproto").write_text(pinned)
    proc = _run(capsys, "pin_depthwise_algorithm", tmp_path / "fine.textproto", tmp_path / "again.textproto")
    assert proc.returncode == 0 and "nothing to pin" in proc.stdout and not (tmp_path / "again.textproto").exists()
    proc = _run(capsys, "pin_depthwise_algorithm", tmp_path / "tuned.textproto", tmp_path / "pinned.bin")
    assert proc.returncode == 2 and "pinned.bin" in proc.stderr and "Traceback" not in proc.stderr


def _autotune_log(op_name, candidates, packed="conv_log"):
    """One entry of XLA's text-format AutotuningLogs (the AutotuningLog proto: the instruction, then every
    candidate it timed), as --xla_gpu_dump_autotune_logs_to writes it. Its `instr` is an Any: a
    ConvInstructionLog around the instruction (packed="conv_log", the older conv picker's form) or the
    HloInstructionProto itself (packed="instruction", what xla/backends/autotuner/autotuner.cc packs)."""
    results = ""
    for algo, workspace, nanos, failure in candidates:
        timing = f"  run_time {{\n      nanos: {nanos}\n    }}\n" if nanos is not None else ""
        failed = f"    failure {{\n      kind: {failure}\n      msg: \"Profiling failure {{x}}\"\n    }}\n" if failure else ""
        results += (f"  results {{\n    scratch_bytes: {workspace}\n  {timing}{failed}    algorithm {{\n      algo_id: {algo}\n"
                    f"      workspace_size {{\n        value: {workspace}\n      }}\n    }}\n  }}\n")
    instruction = (f'name: "cudnn-conv.35"\nopcode: "custom-call"\nmetadata {{\n  op_name: "{op_name}"\n}}\n'
                   'custom_call_target: "__cudnn$convForward"\nbackend_config: "{\\"cudnn_conv_backend_config\\":{}}"\n')
    if packed == "conv_log":
        instruction = "[type.googleapis.com/xla.gpu.ConvInstructionLog] {\ninstruction {\n" + instruction + "}\n}\n"
    else:
        instruction = "[type.googleapis.com/xla.HloInstructionProto] {\n" + instruction + "}\n"
    return (f"logs {{\n  instr {{\n{instruction}  }}\n{results}"
            f'  cudnn_version {{\n    major: 9\n  }}\n  selected_backend: "__cudnn$convForward"\n}}\n')


@pytest.mark.parametrize("packed", ["conv_log", "instruction"])
def test_autotune_log_lists_the_candidates_xla_timed_fastest_first(tmp_path, packed, capsys):
    stage3 = "jit(train_step)/jvp(convnext_tiny_features)/stage3_block1/dwconv/conv_general_dilated"
    (tmp_path / "log.textproto").write_text(
        _autotune_log(stage3, [(5, 0, 101000, None), (22, 154742800, 87000, None), (7, 0, None, "DISQUALIFIED")], packed)
        + _autotune_log("jit(train_step)/jvp(resmlp_12_224_features)/stem/conv_general_dilated", [(10, 104333328, 40000, None)], packed))
    proc = _run(capsys, "autotune_log", tmp_path / "log.textproto", "--match", "dwconv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == stage3 and len(lines) == 4  # the stem is not a dwconv
    assert lines[1].split()[:4] == ["engine", "22", "0.087", "ms"] and lines[1].endswith("147.6 MiB")  # fastest alone: the pick
    assert lines[2].split()[:4] == ["engine", "5", "0.101", "ms"]
    assert lines[3].split()[:4] == ["engine", "7", "failed", "(DISQUALIFIED)"]
    proc = _run(capsys, "autotune_log", tmp_path / "log.textproto", "--match", "stage9")
    assert proc.returncode == 0 and proc.stdout.startswith("no cuDNN convolutions matching 'stage9'") and "VLOG" in proc.stdout
    proc = _run(capsys, "autotune_log", tmp_path / "nope.textproto")
    assert proc.returncode == 2 and "nope.textproto" in proc.stderr and "Traceback" not in proc.stderr


H200_RUN = ROOT / "docs" / "gpu_runs" / "h200_2026-12-04"


def _autotune_dumps(folder, part):
    """The autotuning log and results (None where not kept) a GPU run kept for `part` (results.json, gzipped
    and base64-encoded)."""
    import base64
    import gzip

    results = json.loads((folder / "results.json").read_text())
    return [gzip.decompress(base64.b64decode(results[key]["gzip_base64"])).decode() if key in results else None
            for key in (f"autotune_logs_{part}", f"autotune_results_{part}")]


def test_the_h200_autotuning_logs_show_the_first_convolution_tuned_timed_far_off_where_the_slow_pick_came_from():
    """JAX 0.11.2's autotuner, two processes of the same KD step (2026-12-04): the stage-3 depthwise convolution,
    the first each tuned, has candidates timed far off, different ones in each; in one of them its no-workspace
    engine 5 (0.09 ms in the other, which picked it and ran a step in 22.8 ms; 418 ms here, so the 148 MiB
    engine 22 won: 30.5 ms). The convolutions tuned later timed alike in both."""
    from tas_keras.experiments.autotune_results import logged_convolutions

    def depthwise(folder):
        log, _ = _autotune_dumps(H200_RUN / folder, "kd_eager_modules")
        return {name.split("/")[-3]: candidates for name, candidates in logged_convolutions(log) if "/dwconv/" in name}

    fast, slow = depthwise("eager_modules_a"), depthwise("eager_modules_b")
    assert set(fast) == set(slow) == {"stage1_block1", "stage2_block1", "stage3_block1", "stage4_block1"}

    def engine(candidates, n):
        return [c for c in candidates if c.engine == n]

    (fast5,), (slow5,), (fast22,), (slow22,) = (engine(fast["stage3_block1"], 5), engine(slow["stage3_block1"], 5),
                                                engine(fast["stage3_block1"], 22), engine(slow["stage3_block1"], 22))
    assert fast5.ms < 0.1 < fast22.ms < 1 < 400 < slow5.ms and abs(fast22.ms / slow22.ms - 1) < 0.05
    assert fast["stage3_block1"][0] == fast5 and slow["stage3_block1"][0] == slow22  # the fastest alone: the pick
    assert slow22.workspace == 154742800 and fast5.workspace == 0
    assert all(sum(c.ms > 40 for c in candidates["stage3_block1"]) >= 2 for candidates in (fast, slow))  # far off in both
    for stage in ("stage1_block1", "stage2_block1", "stage4_block1"):  # tuned later: alike, candidate by candidate
        assert len(fast[stage]) == len(slow[stage]) == 15
        assert all(abs(a.ms / b.ms - 1) < 0.1 for a, b in zip(fast[stage], slow[stage]))
        assert fast[stage][0].engine == slow[stage][0].engine == 5


def test_pin_depthwise_algorithm_reads_the_newer_autotuners_results_with_its_log(tmp_path, capsys):
    """JAX 0.11.2's results name instructions by fingerprint: with the log, the slow process's stage-3 pick is
    replaced by exactly the pick the fast process made, and every other entry is kept."""
    from tas_keras.experiments.autotune_results import depthwise_results

    log, tuned = _autotune_dumps(H200_RUN / "eager_modules_b", "kd_eager_modules")
    fast_log, fast_tuned = _autotune_dumps(H200_RUN / "eager_modules_a", "kd_eager_modules")
    (tmp_path / "tuned.textproto").write_text(tuned)
    (tmp_path / "log.textproto").write_text(log)
    proc = _run(capsys, "pin_depthwise_algorithm", tmp_path / "tuned.textproto", tmp_path / "pinned.textproto", "--log", tmp_path / "log.textproto")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "engine 22, workspace 147.6 MiB" in proc.stdout and "pinned 1" in proc.stdout and "bf16[128,14,14,384]" in proc.stdout
    pinned = (tmp_path / "pinned.textproto").read_text()
    assert [(r.shape, r.engine, r.workspace) for r in depthwise_results(pinned, log)] == [
        ("bf16[128,14,14,384]", 5, 0), ("bf16[128,56,56,96]", 5, 0), ("bf16[128,28,28,192]", 5, 0), ("bf16[128,7,7,768]", 5, 0)]

    def stage3_pick(text, log):
        return next(text[r.start:r.end] for r in depthwise_results(text, log) if r.shape == "bf16[128,14,14,384]")

    assert stage3_pick(pinned, log) == stage3_pick(fast_tuned, fast_log)
    assert pinned.count("entries {") == tuned.count("entries {") == 247 and pinned.count("hlo_fingerprint") == 247
    # without the log: a one-line error that asks for it
    proc = _run(capsys, "pin_depthwise_algorithm", tmp_path / "tuned.textproto", tmp_path / "again.textproto")
    assert proc.returncode == 2 and "--log FILE" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "again.textproto").exists()


def test_autotune_log_lists_the_h200_runs_candidates(capsys, tmp_path):
    log, _ = _autotune_dumps(H200_RUN, "kd")
    (tmp_path / "log.textproto").write_text(log)
    proc = _run(capsys, "autotune_log", tmp_path / "log.textproto", "--match", "stage3_block1/dwconv", "--top", "20")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "jit(<lambda>)/convnext_tiny/stage3_block1/dwconv/conv_general_dilated"  # the teacher's forward, tuned first
    assert lines[1].split()[:4] == ["engine", "22", "0.944", "ms"] and lines[1].endswith("147.6 MiB")
    assert any(line.split()[:4] == ["engine", "5", "53.535", "ms"] for line in lines)


def test_autotune_log_against_another_process_lists_the_candidates_timed_apart(tmp_path, capsys):
    """The two processes of 2026-12-04 (22.8 and 30.5 ms a step): of every candidate of every convolution both
    timed, only four of the stage-3 depthwise convolution's differ twofold or more, engine 5 among them."""
    for folder in ("eager_modules_a", "eager_modules_b"):
        log, _ = _autotune_dumps(H200_RUN / folder, "kd_eager_modules")
        (tmp_path / f"{folder}.textproto").write_text(log)
    proc = _run(capsys, "autotune_log", tmp_path / "eager_modules_a.textproto", "--against", tmp_path / "eager_modules_b.textproto")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("4 candidate(s) timed 2x or more apart")
    assert {line.strip() for line in lines[1::2]} == {"jit(train_step)/jvp(convnext_tiny_features)/stage3_block1/dwconv/conv_general_dilated"}
    assert sorted(int(line.split()[1]) for line in lines[2::2]) == [5, 27, 28, 45]
    engine5 = next(line.split() for line in lines[2::2] if line.split()[1] == "5")
    assert float(engine5[2]) < 0.1 and float(engine5[4]) > 400
    proc = _run(capsys, "autotune_log", tmp_path / "eager_modules_a.textproto", "--against", tmp_path / "nope.textproto")
    assert proc.returncode == 2 and "nope.textproto" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run(capsys, "autotune_log", tmp_path / "eager_modules_a.textproto", "--against", tmp_path / "eager_modules_b.textproto", "--factor", "1")
    assert proc.returncode == 2 and "--factor" in proc.stderr and "Traceback" not in proc.stderr
