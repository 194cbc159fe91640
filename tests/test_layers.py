"""The package's layers import one way: each subpackage imports only from the layers below
it (function-level imports included), so that kernels never import the sweep, the store or
the CLI."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"

LAYERS = {
    "numerics": 0,
    "architectures": 1,
    "sweep": 2,
    "store": 3,
    "run": 4,
    "analysis": 4,
    "bench": 5,
    "cli": 6,
}
"""Height of each subpackage: a module may import from its own subpackage and from lower
ones (``run`` and ``analysis`` stand side by side and do not import each other)."""


def imports(path: Path) -> set[str]:
    """The ``pipeline`` subpackages a module imports, wherever in the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = (
                [node.module]
                if node.module != "pipeline"
                else [f"pipeline.{alias.name}" for alias in node.names]
            )
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "pipeline" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_down(path):
    layer = path.relative_to(PACKAGE).parts[0]
    assert layer in LAYERS, f"{layer}/ is not a known layer"
    upward = {
        other
        for other in imports(path) - {layer}
        if other not in LAYERS or LAYERS[other] >= LAYERS[layer]
    }
    assert not upward, f"{path.relative_to(PACKAGE)} imports from {sorted(upward)}"


def test_no_flat_modules_but_the_api():
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]
