"""The sandbox stakeholder-update templates are rendered in (Jinja2).

A template sees plain values and nothing of Python's internals (Jinja2's
immutable sandbox), and cannot make a number, a string, a loop or an output
large enough to stall the console: what it tries is refused with a message
naming the line.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mimdesk.updates import TemplateProblem

MAX_OUTPUT = 20_000  # characters of one rendered update
MAX_TEMPLATE = 20_000  # characters of one template
MAX_SECONDS = 1.0
MAX_RANGE = 1_000
MAX_LOOP_DEPTH = 2
MAX_NUMBER = 100_000  # largest number a template may multiply, pad or repeat by


class _Sandbox(ImmutableSandboxedEnvironment):
    """No access to internals (the sandbox), nothing mutable, and no way to
    make a number, a string or a loop large enough to stall the console."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("'**' is not allowed in update templates")
        for value in (left, right):
            if isinstance(value, int | float) and abs(value) > MAX_NUMBER:
                raise SecurityError(f"{value} is too large a number here")
            if operator == "%" and isinstance(value, str) and _wide(value):
                raise SecurityError("a format that wide is not allowed")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and abs(value) > MAX_NUMBER:
                raise SecurityError(f"{value} is too large a number here")
            if isinstance(value, str) and _wide(value):
                raise SecurityError("a format that wide is not allowed")
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, str) and attribute.startswith("format") and _wide(obj):
            raise SecurityError("a format that wide is not allowed")
        return super().getattr(obj, attribute)


def _wide(text: str) -> bool:
    """A format string asking for a huge width or precision ('{:>99999999}')."""
    run = 0
    for char in text:
        run = run + 1 if char.isdigit() else 0
        if run > 5:
            return True
    return False


def _capped_range(*args: int) -> range:
    made = range(*args)
    if len(made) > MAX_RANGE:
        raise SecurityError(f"range() of more than {MAX_RANGE} items")
    return made


def _environment() -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals = {"range": _capped_range}
    return env


def _check_shape(env: _Sandbox, source: str, name: str) -> None:
    """Refuse what could run without bound before running anything."""
    if len(source) > MAX_TEMPLATE:
        raise TemplateProblem(f"{name}: longer than {MAX_TEMPLATE} characters")
    tree = env.parse(source)
    for node in tree.find_all((nodes.Macro, nodes.CallBlock)):
        raise TemplateProblem(
            f"{name} line {node.lineno}: macros are not allowed in update templates"
        )
    for node in tree.find_all(nodes.For):
        depth = _depth(tree, node)
        if depth > MAX_LOOP_DEPTH:
            raise TemplateProblem(
                f"{name} line {node.lineno}: loops nested {depth} deep; at most "
                f"{MAX_LOOP_DEPTH} are allowed"
            )


def _depth(tree: nodes.Node, target: nodes.For) -> int:
    def walk(node: nodes.Node, depth: int) -> int | None:
        if node is target:
            return depth + 1
        inner = depth + (1 if isinstance(node, nodes.For) else 0)
        for child in node.iter_child_nodes():
            found = walk(child, inner)
            if found is not None:
                return found
        return None

    return walk(tree, 0) or 1


def render_text(source: str, context: Mapping[str, Any], *, name: str) -> str:
    """Render `source` in the sandbox; TemplateProblem says what went wrong."""
    env = _environment()
    try:
        _check_shape(env, source, name)
        template = env.from_string(source)
        started, size, parts = time.monotonic(), 0, []
        for chunk in template.generate(**context):
            size += len(chunk)
            parts.append(chunk)
            if size > MAX_OUTPUT:
                raise TemplateProblem(
                    f"{name}: the text would be longer than {MAX_OUTPUT} characters"
                )
            if time.monotonic() - started > MAX_SECONDS:
                raise TemplateProblem(f"{name}: took longer than {MAX_SECONDS:g} s")
        return "".join(parts)
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem(f"{_where(name, exc)}: not allowed: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"{_where(name, exc)}: {exc.message or exc}") from None
    except RecursionError:
        raise TemplateProblem(f"{name}: recursion too deep") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise TemplateProblem(f"{_where(name, exc)}: {problem}") from None


def _where(name: str, exc: BaseException) -> str:
    """'name line N': the template line an error came from, when known."""
    line = getattr(exc, "lineno", None)
    if line is None:
        frames = traceback.extract_tb(exc.__traceback__)
        line = next(
            (f.lineno for f in reversed(frames) if f.filename == "<template>"), None
        )
    return f"{name} line {line}" if line else name
