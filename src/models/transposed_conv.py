"""Transposed convolution spelled out: its output size, and the scatter-add that defines it.

A transposed convolution is the gradient of a convolution with respect to its input: every input
pixel `x[n, c, i, j]` scatters `x[n, c, i, j] * kernel[c, :, :, :]` into the output window whose top
left corner is `(i·S − P, j·S − P)`. Overlapping windows add up. Along one axis the output has

    O = (N − 1)·S − 2·P + dilation·(K − 1) + output_padding + 1

pixels, i.e. O = (N − 1)·S + K − 2·P for dilation 1 and no output padding: a 2×2 input, 3×3 kernel,
stride 2, padding 0 gives 5×5. The U-Net uses `torch.nn.ConvTranspose2d` (same arithmetic, fast);
these functions are the readable reference the tests check it against.
"""

from __future__ import annotations

import torch

from src.errors import check


def transposed_conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Output length along one axis: (N − 1)·S − 2P + dilation·(K − 1) + output_padding + 1.

    Matches `torch.nn.ConvTranspose2d` (and its docs). `output_padding` must be smaller than the stride
    or the dilation, as in PyTorch; it only adds rows/columns at the bottom/right.
    """
    check(size >= 1, "size", "an input length >= 1", size)
    check(kernel_size >= 1, "kernel_size", "an integer >= 1", kernel_size)
    check(stride >= 1, "stride", "an integer >= 1", stride)
    check(padding >= 0, "padding", "an integer >= 0", padding)
    check(dilation >= 1, "dilation", "an integer >= 1", dilation)
    check(
        0 <= output_padding < max(stride, dilation),
        "output_padding",
        f"an integer in [0, max(stride, dilation)) = [0, {max(stride, dilation)})",
        output_padding,
    )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    check(out >= 1, "padding", f"a padding leaving a positive output size (got output {out})", padding)
    return out


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def scatter_add_conv_transpose2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """Transposed 2-D convolution by explicit scatter-add (no groups); same result as F.conv_transpose2d.

    Shapes: `x` N×C_in×H×W, `weight` C_in×C_out×K_h×K_w (PyTorch's ConvTranspose2d layout), `bias`
    C_out; returns N×C_out×H_out×W_out with H_out from `transposed_conv_output_size`.

    The loop runs over the kernel taps, not the pixels: for tap (a, b), input pixel (i, j) lands on
    full-output pixel (i·S + a·D, j·S + b·D), so one strided slice-add moves all pixels at once with
    `x[n, c] * w[c, o, a, b]` summed over c. The full (unpadded) output is then cropped by `padding`
    on each side; `output_padding` extends the bottom/right.
    """
    check(x.dim() == 4, "x", "an N×C×H×W tensor", tuple(x.shape))
    check(
        weight.dim() == 4 and weight.shape[0] == x.shape[1],
        "weight",
        f"a {x.shape[1]}×C_out×K×K tensor",
        tuple(weight.shape),
    )
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = map(_pair, (stride, padding, output_padding, dilation))
    n, _, h, w = x.shape
    c_out, kh, kw = weight.shape[1:]
    out_h = transposed_conv_output_size(h, kh, sh, ph, oph, dh)
    out_w = transposed_conv_output_size(w, kw, sw, pw, opw, dw)
    # the full output before cropping the padding: every scattered window fits, plus output padding
    full_h, full_w = out_h + 2 * ph, out_w + 2 * pw
    full = x.new_zeros(n, c_out, full_h, full_w)
    for a in range(kh):
        for b in range(kw):
            # contribution of tap (a, b) for all pixels: N×C_out×H×W
            contrib = torch.einsum("nchw,co->nohw", x, weight[:, :, a, b])
            top, left = a * dh, b * dw
            full[:, :, top : top + (h - 1) * sh + 1 : sh, left : left + (w - 1) * sw + 1 : sw] += contrib
    out = full[:, :, ph : ph + out_h, pw : pw + out_w]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def scatter_add_conv_transpose2d_naive(
    x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0
) -> torch.Tensor:
    """The textbook loop over input pixels (batch and channels included), for teaching and tests.

    Each input pixel (i, j) scatters `x[:, :, i, j] · weight` (an N×C_out×K×K window) into the
    output at rows i·S … i·S+K−1 and columns j·S … j·S+K−1; then `padding` is cropped off each side.
    """
    n, _, h, w = x.shape
    c_out, k, _ = weight.shape[1:]
    full = x.new_zeros(n, c_out, (h - 1) * stride + k, (w - 1) * stride + k)
    for i in range(h):
        for j in range(w):
            window = torch.einsum("nc,cokl->nokl", x[:, :, i, j], weight)
            full[:, :, i * stride : i * stride + k, j * stride : j * stride + k] += window
    size_h = transposed_conv_output_size(h, k, stride, padding)
    size_w = transposed_conv_output_size(w, k, stride, padding)
    return full[:, :, padding : padding + size_h, padding : padding + size_w]
