"""`python tools.py <browse|compare|mistakes|profile> [overrides]`: see docs/tools.md and conf/<tool>.yaml."""

import sys

import hydra

from src.runtime.checkpoints.checkpoint_check import main_with_checkpoint_model
from src.runtime.runs.entry import preflight, run_task
from src.tools import TOOLS, tool_function


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in TOOLS:
        print(
            f"Config error: tool: {name!r} is not a tool; python tools.py <{'|'.join(TOOLS)}> [overrides]",
            file=sys.stderr,
        )
        sys.exit(2)
    del sys.argv[1]
    sys.argv[0] = f"{sys.argv[0]} {name}"  # Hydra's --help names the tool

    @hydra.main(version_base="1.3", config_path="conf", config_name=name)
    def run(cfg):
        return run_task(tool_function(name), cfg)

    if TOOLS[name].takes_checkpoint:
        main_with_checkpoint_model(run, name)  # `model=` from the checkpoint, then the overrides checked
    else:
        preflight(name)  # unknown options / misspelled keys: one line, exit 2
        run()


if __name__ == "__main__":
    main()
