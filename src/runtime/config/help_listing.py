"""`--help` and `--hydra-help` list the config groups from one copy of the config repository.

Hydra's help lists every config group twice (its own, then the app's), asking for each group's options
through `ConfigLoaderImpl.get_group_options`, which deep-copies the whole config repository (Hydra's
structured configs and every plugin's) on each call: ~160 copies, most of `--help`'s time. With no
config name and no overrides (the help's own calls) every copy is the same, so one serves them all.
Applied by the entry points for a help request only (the process prints and exits); every other call
goes to Hydra's own method.
"""

from __future__ import annotations

HELP_FLAGS = ("--help", "-h", "--hydra-help")


def one_repository_for_help() -> None:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.object_type import ObjectType

    hydras_own = ConfigLoaderImpl.get_group_options

    def get_group_options(
        self, group_name, results_filter=ObjectType.CONFIG, config_name=None, overrides=None
    ):
        if config_name is not None or overrides:
            return hydras_own(self, group_name, results_filter, config_name, overrides)
        repo = self.__dict__.get("_help_repository")
        if repo is None:
            _, repo = self._parse_overrides_and_create_caching_repo(None, [])
            self._help_repository = repo
        return repo.get_group_options(group_name, results_filter)

    ConfigLoaderImpl.get_group_options = get_group_options
