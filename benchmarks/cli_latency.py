"""Command-line latency: how long `python train.py ...` takes to answer when no task runs.

A mistyped override, `--help`, `--cfg job`, `--info` and shell tab completion (the script and a query, as
bash asks it on every tab) need Hydra and the config tree only, never torch or Lightning. Each command
is a fresh interpreter, as a user's shell starts it, timed beside `python -c "import lightning"` (what
each of them paid before the entry points imported the heavy stack lazily). Commands run in turn
(interleaved rounds, one warm-up), median of 5 each. Goal: every command ≤ 1.5 s.
`python -m benchmarks.cli_latency [--quick]`.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks._common import ROOT, interleaved, median, parse_args, write_result

GOAL = 1.5  # seconds
REFERENCE = "import lightning"
# (what the user does, the arguments after `python`, extra environment, the exit code it must end with)
COMMANDS = [
    (REFERENCE, ["-c", "import lightning"], {}, 0),
    ("unknown group option", ["train.py", "model=unett"], {}, 2),
    ("misspelled key", ["train.py", "model.net.dpeth=3"], {}, 2),
    ("--help", ["train.py", "--help"], {}, 0),
    ("--cfg job", ["train.py", "--cfg", "job"], {}, 0),
    ("--info", ["train.py", "--info"], {}, 0),
    ("tab completion: install", ["train.py", "-sc", "install=bash"], {}, 0),
    (
        "tab completion: query `model=u`",
        ["train.py", "-sc", "query=bash"],
        {"COMP_LINE": "python train.py model=u", "COMP_POINT": "23"},
        0,
    ),
    ("eval.py --help", ["eval.py", "--help"], {}, 0),
    ("predict.py --help", ["predict.py", "--help"], {}, 0),
]


def command(args: list[str], extra_env: dict, code: int):
    env = {**os.environ, "WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "0", **extra_env}

    def run() -> None:
        proc = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        if proc.returncode != code:  # a timing of a command that did not do its job is no timing
            raise RuntimeError(
                f"python {' '.join(args)}: exit {proc.returncode}, expected {code}\n{proc.stderr}"
            )

    return run


def main() -> None:
    args = parse_args(__doc__)
    repeats = 2 if args.quick else 5
    fns = {name: command(argv, env, code) for name, argv, env, code in COMMANDS}
    times = interleaved(fns, repeats, warmup=1)
    reference = median(times[REFERENCE])
    rows = [
        [
            name,
            "python " + " ".join(argv),
            median(times[name]),
            f"{min(times[name]):.2f}–{max(times[name]):.2f}",
            f"{median(times[name]) / reference:.2f}",
            "" if name == REFERENCE else ("met" if median(times[name]) <= GOAL else "not met"),
        ]
        for name, argv, _, _ in COMMANDS
    ]
    headers = ["what", "command", "median s", "range s", "× import lightning", f"goal ≤ {GOAL} s"]
    notes = (
        f"Median of {repeats} runs per command, each a fresh interpreter in the project root, run in turn "
        "(interleaved rounds after one warm-up round, so every command meets the same background load). "
        "The tab-completion query is what Hydra's bash script runs on every tab (`COMP_LINE='python train.py "
        "model=u' python train.py -sc query=bash`). Before the entry points imported the pipeline lazily, "
        "every row paid at least the `import lightning` row."
    )
    write_result(
        "cli_latency",
        "Command-line latency: answers that need no task",
        [("", headers, rows)],
        {
            "seconds": {name: median(times[name]) for name in times},
            "runs": times,
            "goal_s": GOAL,
            "reference": REFERENCE,
        },
        args.out,
        notes,
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
