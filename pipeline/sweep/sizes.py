"""The subsystem-size language of a spec: ``m = "1..n//2-2"``.

A range ``a..b`` (inclusive) or one expression; ends are integer expressions in ``n`` of
integers, ``n``, ``+ - * //`` and parentheses. ``/`` is refused (use ``//``), so a range
never depends on rounding; every size must satisfy ``1 <= m <= n-1``, nothing is clipped.

>>> size_range("1..n//2-2", 12)
(1, 2, 3, 4)
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable

_BINARY: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}


_UNARY: dict[type[ast.unaryop], Callable[[int], int]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _check_expression(node: ast.AST, text: str) -> None:
    """Refuse everything but integers, ``n``, ``+ - * //`` and parentheses."""
    if isinstance(node, ast.Constant):
        if type(node.value) is not int:
            raise ValueError(f"{text!r}: only integer constants are allowed, got {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id != "n":
            raise ValueError(f"{text!r}: unknown name {node.id!r}; the only variable is n")
    elif isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div):
            raise ValueError(f"{text!r}: '/' is not allowed; use '//' for integer division")
        if type(node.op) not in _BINARY:
            raise ValueError(f"{text!r}: only + - * // and parentheses are allowed")
        _check_expression(node.left, text)
        _check_expression(node.right, text)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check_expression(node.operand, text)
    else:
        raise ValueError(
            f"{text!r}: not an integer expression in n (only integers, n, + - * // "
            "and parentheses are allowed)"
        )


def _evaluate(node: ast.AST, n: int) -> int:
    """Value of a checked expression at ``n``."""
    if isinstance(node, ast.Constant):
        return int(node.value)  # type: ignore[arg-type]  # checked by _check_expression
    if isinstance(node, ast.Name):
        return n
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, n))
    assert isinstance(node, ast.BinOp)
    left, right = _evaluate(node.left, n), _evaluate(node.right, n)
    if isinstance(node.op, ast.FloorDiv) and right == 0:
        raise ValueError(f"division by zero for n = {n}")
    return _BINARY[type(node.op)](left, right)


@functools.lru_cache(maxsize=256)
def parse_range(text: str) -> tuple[ast.expr, ast.expr]:
    """``"a..b"`` (or a single expression ``"e"``, meaning ``"e..e"``) as two ASTs."""
    parts = text.split("..")
    if len(parts) > 2:
        raise ValueError(f"{text!r}: a range has one '..', as in '1..n//2'")
    nodes = []
    for part in parts:
        if not part.strip():
            raise ValueError(f"{text!r}: both ends of a range are needed, as in '1..n//2'")
        try:
            node = ast.parse(part.strip(), mode="eval").body
        except SyntaxError:
            raise ValueError(f"{text!r}: {part.strip()!r} is not an expression") from None
        _check_expression(node, text)
        nodes.append(node)
    return nodes[0], nodes[-1]


def check_size(m: int, n: int, prefix: str = "") -> None:
    """``ValueError`` unless ``1 <= m <= n - 1`` (``prefix`` starts the message)."""
    if m < 1:
        raise ValueError(
            f"{prefix}size {m} is not >= 1 for n = {n} (sizes must satisfy 1 <= m <= n-1)"
        )
    if m > n - 1:
        raise ValueError(f"{prefix}size {m} is not < n = {n} (sizes must satisfy 1 <= m <= n-1)")


def size_range(text: str, n: int) -> tuple[int, ...]:
    """The sizes ``m`` that the range or expression ``text`` gives for ``n`` spins;
    ``ValueError`` naming the problem if it is empty or a size is not in ``1..n-1``."""
    low_node, high_node = parse_range(text)
    try:
        low, high = _evaluate(low_node, n), _evaluate(high_node, n)
    except ValueError as error:
        raise ValueError(f"{text!r}: {error}") from None
    if low > high:
        raise ValueError(f"{text!r} is empty for n = {n} (it gives {low}..{high})")
    prefix = f"{text!r} gives {low}..{high} for n = {n}; "
    for m in (low, high):
        check_size(m, n, prefix)
    return tuple(range(low, high + 1))
