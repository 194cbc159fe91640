"""Registered architectures. Importing this package registers every built-in one."""

from pipeline.architectures import dicke, sn  # noqa: F401  (registration)
from pipeline.architectures.base import (
    REGISTRY,
    Architecture,
    get_architecture,
    hyper_dict,
    make_hyper,
    register,
)

__all__ = ["REGISTRY", "Architecture", "get_architecture", "hyper_dict", "make_hyper", "register"]
