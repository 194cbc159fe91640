"""Registered architectures. Importing this package registers every built-in one."""

from pipeline.architectures import (  # noqa: F401  (registration)
    dicke,
    mlp,
    random_feature,
    rbm,
    reference,
    sn,
    transformer,
)
from pipeline.architectures.base import (
    REGISTRY,
    Architecture,
    get_architecture,
    hyper_dict,
    make_hyper,
    register,
)

__all__ = ["REGISTRY", "Architecture", "get_architecture", "hyper_dict", "make_hyper", "register"]
