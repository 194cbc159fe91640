"""SLURM site options: read the site config (the packaged ``run/data/site.toml``, or
``$NQS_ENT_SITE_CONFIG``) and validate it into a frozen :class:`SlurmOptions`; unknown
keys and bad values are errors naming the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.sweep.cluster import SlurmOptions, check_keys


def package_file(name: str) -> str:
    """The text of a file shipped in ``pipeline/run/data/`` (``site.toml``,
    ``sweep-body.sh``), read through :mod:`importlib.resources` so that a wheel install
    finds it as well as a checkout."""
    return resources.files("pipeline.run").joinpath("data", name).read_text(encoding="utf-8")


def site_config_text() -> str:
    """The packaged site defaults (``nqs-ent slurm site``), to copy and edit."""
    return package_file("site.toml")


CONFIG_ENV = "NQS_ENT_SITE_CONFIG"
"""Environment variable naming a site config to use instead of the packaged one
(``nqs-ent slurm site`` prints it)."""


def options_from_mapping(
    table: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    gpu: bool = False,
    where: str = "the site config",
) -> SlurmOptions:
    """Validate a parsed site config (a TOML table) into :class:`SlurmOptions`.

    ``table`` may hold a ``[gpu]`` sub-table, applied over the top-level keys when
    ``gpu`` is true; ``overrides`` (e.g. a spec's ``[cluster]`` table) are applied last.
    Unknown keys anywhere raise :class:`ValueError`.

    Examples
    --------
    >>> options_from_mapping({"gpus": 0, "gpu": {"gpus": 1}}, gpu=True).gpus
    1
    >>> options_from_mapping({"partitoin": "debug"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown key(s) 'partitoin' in the site config; known keys: partition, ...
    """
    values = dict(table)
    gpu_table = values.pop("gpu", {})
    if not isinstance(gpu_table, Mapping):
        raise ValueError(f"'gpu' in {where} must be a table ([gpu]), not {gpu_table!r}")
    check_keys(values, where)
    check_keys(gpu_table, f"the [gpu] table of {where}")
    if gpu:
        values.update(gpu_table)
    if overrides:
        check_keys(overrides, "the overrides")
        values.update(overrides)
    return SlurmOptions(**values)


def load_site_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    gpu: bool = False,
) -> SlurmOptions:
    """Read and validate the site config.

    Parameters
    ----------
    path
        A TOML file; default: ``$NQS_ENT_SITE_CONFIG`` if set, else the packaged defaults
        (``pipeline/run/data/site.toml``).
    overrides
        Keys applied over the file's values (validated the same way).
    gpu
        Apply the file's ``[gpu]`` table (the GPU variant of the scripts).
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        path, text = "the packaged site.toml", site_config_text()
    else:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no SLURM site config at {path}; pass a path or set {CONFIG_ENV}"
            ) from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    return options_from_mapping(table, overrides, gpu=gpu, where=str(path))
