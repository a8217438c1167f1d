"""The transposed-convolution size formula and the scatter-add reference against PyTorch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from src.errors import ConfigError
from src.models.transposed_conv import (
    scatter_add_conv_transpose2d,
    scatter_add_conv_transpose2d_naive,
    transposed_conv_output_size,
)


def test_lecture_example_2x2_input_3x3_kernel_stride_2_gives_5x5():
    assert transposed_conv_output_size(2, 3, stride=2, padding=0) == 5
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    w = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    expected = torch.nn.functional.conv_transpose2d(x, w, stride=2)
    assert expected.shape == (1, 1, 5, 5)
    out = scatter_add_conv_transpose2d(x, w, stride=2)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(scatter_add_conv_transpose2d_naive(x, w, stride=2), expected)
    # the centre column/row is where neighbouring windows overlap and add: 3·x00 + 1·x01 at (0, 2)
    assert out[0, 0, 0, 2] == 3 * 1.0 + 1 * 2.0


@pytest.mark.parametrize(
    "n, k, s, p, op, d",
    [
        (2, 3, 2, 0, 0, 1),
        (7, 4, 2, 1, 0, 1),
        (5, 3, 2, 1, 1, 1),
        (4, 3, 3, 2, 2, 1),
        (6, 3, 1, 0, 1, 2),
        (1, 1, 1, 0, 0, 1),
    ],
)
def test_output_size_matches_conv_transpose2d(n, k, s, p, op, d):
    layer = torch.nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d)
    out = layer(torch.zeros(1, 1, n, n + 1))
    assert out.shape[-2:] == (
        transposed_conv_output_size(n, k, s, p, op, d),
        transposed_conv_output_size(n + 1, k, s, p, op, d),
    )
    if d == 1 and op == 0:
        assert out.shape[-2] == (n - 1) * s + k - 2 * p  # the lecture's O = (N−1)·S + K − 2P


def test_output_size_rejects_impossible_arguments():
    with pytest.raises(ConfigError, match="output_padding"):
        transposed_conv_output_size(4, 3, stride=2, output_padding=2)
    with pytest.raises(ConfigError, match="padding"):
        transposed_conv_output_size(1, 1, stride=1, padding=1)


def test_scatter_add_matches_torch_on_random_shapes():
    gen = torch.Generator().manual_seed(0)
    checked = 0
    for _ in range(40):
        h, w = torch.randint(1, 7, (2,), generator=gen).tolist()
        kh, kw = torch.randint(1, 5, (2,), generator=gen).tolist()
        sh, sw = torch.randint(1, 4, (2,), generator=gen).tolist()
        dh = int(torch.randint(1, 3, (1,), generator=gen))
        ph, pw = int(torch.randint(0, 2, (1,), generator=gen)), int(torch.randint(0, 2, (1,), generator=gen))
        oph = int(torch.randint(0, max(sh, dh), (1,), generator=gen))
        x = torch.randn(2, 3, h, w, generator=gen, dtype=torch.float64)
        weight = torch.randn(3, 4, kh, kw, generator=gen, dtype=torch.float64)
        bias = torch.randn(4, generator=gen, dtype=torch.float64)
        args = dict(stride=(sh, sw), padding=(ph, pw), output_padding=(oph, 0), dilation=(dh, 1))
        if (h - 1) * sh + dh * (kh - 1) + 1 + oph - 2 * ph < 1 or (w - 1) * sw + kw - 2 * pw < 1:
            continue  # padding larger than the output: torch refuses too
        expected = F.conv_transpose2d(x, weight, bias, **args)
        torch.testing.assert_close(scatter_add_conv_transpose2d(x, weight, bias, **args), expected)
        checked += 1
    assert checked >= 30


def test_naive_pixel_loop_matches_module():
    torch.manual_seed(1)
    layer = torch.nn.ConvTranspose2d(3, 5, kernel_size=3, stride=2, padding=1, bias=False).double()
    x = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    out = scatter_add_conv_transpose2d_naive(x, layer.weight.detach(), stride=2, padding=1)
    torch.testing.assert_close(out, layer(x).detach())
