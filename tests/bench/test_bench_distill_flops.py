"""The FLOP count behind bench_distill's MFU, against the analytic count of a linear layer."""

import importlib.util
from pathlib import Path

import torch

SPEC = importlib.util.spec_from_file_location(
    "bench_distill", Path(__file__).parents[2] / "benchmarks" / "bench_distill.py")
bench_distill = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench_distill)


def test_step_flops_of_linear_forward_backward_is_six_b_in_out():
    b, n_in, n_out = 8, 32, 16
    layer = torch.nn.Linear(n_in, n_out, bias=False)
    x = torch.randn(b, n_in, requires_grad=True)

    def step():
        layer(x).sum().backward()

    # forward 2·b·in·out, backward 2·b·in·out for each of the input and weight gradients
    assert bench_distill.step_flops(step) == 6 * b * n_in * n_out


def test_no_peak_without_a_cuda_device_at_16_bit():
    assert bench_distill.peak_tflops(torch.device("cpu"), "bf16") is None
