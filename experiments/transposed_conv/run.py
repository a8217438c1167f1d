"""Study 4: transposed-convolution arithmetic, the lecture's example step by step.

A 2×2 input, a 3×3 kernel, stride 2, no padding: every input pixel scatters `pixel × kernel` into a
3×3 window of the output, windows start 2 pixels apart and overlap on one row/column, and the output is
(2 − 1)·2 + 3 − 2·0 = 5 pixels wide. The script prints each step, checks the result against PyTorch's
`ConvTranspose2d`, and draws the figure `transposed_conv.png`.

    python -m experiments.transposed_conv.run [--out experiments/transposed_conv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from src.models.transposed_conv import scatter_add_conv_transpose2d, transposed_conv_output_size  # noqa: E402

HERE = Path(__file__).resolve().parent
README = """# Study 4: transposed-convolution arithmetic

**Question.** How does a transposed convolution turn a 2×2 input into a 5×5 output with a 3×3 kernel and
stride 2, and does PyTorch's `ConvTranspose2d` compute exactly the scatter-add of the lecture?

**Command** (a second, on any CPU; this file and the figure are written by it):

    python -m experiments.transposed_conv.run

**Result.** Each input pixel scatters `pixel × kernel` into a 3×3 window of the output; windows start
`stride` = 2 pixels apart, so neighbouring windows overlap on one row/column, where contributions add
up. Output size O = (N − 1)·S + K − 2P = 5. The hand-made scatter-add, the reference
`src.models.transposed_conv.scatter_add_conv_transpose2d` and `torch.nn.ConvTranspose2d` agree exactly.

![steps](transposed_conv.png)

```
{output}
```

The same arithmetic, for any size, stride, padding, output padding and dilation, is
`src.models.transposed_conv.transposed_conv_output_size`, tested against PyTorch in
`tests/unit/test_transposed_conv.py`; the U-Net's decoder uses `ConvTranspose2d(k=2, s=2)`, which exactly
doubles the size: O = (N − 1)·2 + 2 = 2N.
"""


def fmt(t: torch.Tensor) -> str:
    return "\n".join("  " + " ".join(f"{v:5.0f}" for v in row) for row in t.tolist())


def run(out_dir: Path) -> dict:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    k = torch.arange(1.0, 10.0).view(3, 3)
    stride, padding = 2, 0
    n_out = transposed_conv_output_size(2, 3, stride, padding)
    lines = [
        f"input 2×2:\n{fmt(x)}",
        f"kernel 3×3:\n{fmt(k)}",
        f"output size O = (N − 1)·S + K − 2P = (2 − 1)·{stride} + 3 − 2·{padding} = {n_out}",
    ]
    out = torch.zeros(n_out, n_out)
    windows = []
    for i in range(2):
        for j in range(2):
            window = torch.zeros(n_out, n_out)
            window[i * stride : i * stride + 3, j * stride : j * stride + 3] = x[i, j] * k
            windows.append(((i, j), window))
            out += window
            lines.append(
                f"step: input[{i},{j}] = {x[i, j]:.0f} scatters {x[i, j]:.0f}·kernel into rows "
                f"{i * stride}..{i * stride + 2}, cols {j * stride}..{j * stride + 2}; running sum:\n{fmt(out)}"
            )
    layer = torch.nn.ConvTranspose2d(1, 1, kernel_size=3, stride=stride, padding=padding, bias=False)
    with torch.no_grad():
        layer.weight.copy_(k.view(1, 1, 3, 3))
        torch_out = layer(x.view(1, 1, 2, 2))[0, 0]
    ours = scatter_add_conv_transpose2d(x.view(1, 1, 2, 2), k.view(1, 1, 3, 3), stride=stride)[0, 0]
    same = bool(torch.equal(out, torch_out) and torch.equal(ours, torch_out))
    lines.append(f"torch.nn.ConvTranspose2d output {tuple(torch_out.shape)}:\n{fmt(torch_out)}")
    lines.append(f"hand-made scatter-add == library scatter-add == ConvTranspose2d: {same}")
    text = "\n\n".join(lines)
    print(text)
    assert same, "scatter-add and ConvTranspose2d disagree"

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 7, figsize=(20, 3.4))
    panels = [("input 2×2", x), ("kernel 3×3", k)]
    panels += [(f"input[{i},{j}]·kernel", w) for (i, j), w in windows]
    panels += [("output 5×5 (sum)", out)]
    for ax, (title, t) in zip(axes, panels):
        ax.imshow(t, cmap="viridis")
        for (r, c), v in zip(
            torch.cartesian_prod(torch.arange(t.shape[0]), torch.arange(t.shape[1])).tolist(), t.flatten()
        ):
            ax.text(c, r, f"{v:.0f}", ha="center", va="center", color="white", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "Transposed convolution: 2×2 input, 3×3 kernel, stride 2 → 5×5 (windows overlap on row/col 2)"
    )
    fig.tight_layout()
    fig.savefig(out_dir / "transposed_conv.png", dpi=110)
    plt.close(fig)
    (out_dir / "README.md").write_text(README.format(output=text))
    return {"output_size": n_out, "matches_pytorch": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    run(parser.parse_args().out)


if __name__ == "__main__":
    main()
