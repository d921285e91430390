"""The sandbox stakeholder-update templates are rendered in (Jinja2).

A template sees plain values and nothing of Python's internals (Jinja2's
immutable sandbox), and cannot make a number, a string, a loop or an output
large enough to stall the console: sizes are worked out before the work is
done where they can be, and what would be too large is refused with a message
naming the line.
"""

from __future__ import annotations

import functools
import re
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mimdesk.updates import TemplateProblem

MAX_OUTPUT = 20_000  # characters of one rendered update
MAX_TEMPLATE = 20_000  # characters of one template
MAX_SECONDS = 1.0
MAX_RANGE = 1_000
MAX_LOOP_DEPTH = 2
MAX_NUMBER = 100_000  # largest number a template may multiply, pad or repeat by
MAX_STRING = 1_000  # characters or items '*' may make
MAX_STEPS = 100_000  # loop steps in one rendering
MAX_WRITTEN = 200_000  # characters one rendering may write, blocks included
_STEPS_FILTER = "_steps"  # wraps every loop's sequence; see _count_steps


class _Generator(CodeGenerator):
    """Compiles '~' so that what it joins is size-checked like '+', and every
    piece of text written (also into {% set %} and {% filter %} blocks, which
    the output limit does not see) so that it is counted."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked(")
        super().visit_Concat(node, frame)
        self.write(")")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.written({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.written(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    """No access to internals (the sandbox), nothing mutable, and no way to
    make a number, a string or a loop large enough to stall the console."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _Generator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {
            name: _checked_filter(self, name, function)
            for name, function in self.filters.items()
        }
        self.filters[_STEPS_FILTER] = self._count_steps
        self._steps = self._written = 0
        self._deadline = time.monotonic() + MAX_SECONDS

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("'**' is not allowed in update templates")
        for value in (left, right):
            big = isinstance(value, int | float) and abs(value) > MAX_NUMBER
            if big and operator != "+":
                raise SecurityError(f"{value} is too large a number here")
            if operator == "%" and isinstance(value, str) and _wide(value):
                raise SecurityError("a format that wide is not allowed")
        _check_binop_size(operator, left, right)
        return self.checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_arguments((*args, *kwargs.values()))
        owner, method = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if isinstance(owner, str) and method in _METHOD_SIZES:
            _check_predicted(_METHOD_SIZES[method](owner, *args, **kwargs))
        return __self.checked(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, str) and attribute.startswith("format") and _wide(obj):
            raise SecurityError("a format that wide is not allowed")
        return super().getattr(obj, attribute)

    def checked(self, value: Any) -> Any:
        """`value`, unless it is a text or list too long to be part of an update."""
        if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
            raise SecurityError(
                f"a result of more than {MAX_OUTPUT} characters or items"
            )
        return value

    def written(self, text: str) -> str:
        """`text`, counted against what one rendering may write in all."""
        self._written += len(text)
        if self._written > MAX_WRITTEN:
            raise SecurityError(
                f"wrote more than {MAX_WRITTEN} characters, counting what "
                "{% set %} and {% filter %} blocks hold"
            )
        return text

    def _count_steps(self, sequence: Iterable[Any]) -> Iterator[Any]:
        """Every loop runs through this, so all loops together stop in time."""
        for item in sequence:
            self._steps += 1
            if self._steps > MAX_STEPS:
                raise SecurityError(f"loops ran more than {MAX_STEPS} steps")
            if time.monotonic() > self._deadline:
                raise SecurityError(f"took longer than {MAX_SECONDS:g} s")
            yield item


def _check_arguments(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, int) and abs(value) > MAX_NUMBER:
            raise SecurityError(f"{value} is too large a number here")
        if isinstance(value, str) and _wide(value):
            raise SecurityError("a format that wide is not allowed")


def _check_binop_size(operator: str, left: Any, right: Any) -> None:
    """Refuse a '*' or '+' whose result would be too long, before making it."""
    sequences = (str, list, tuple)
    if operator == "*":
        for items, times in ((left, right), (right, left)):
            sized = isinstance(items, sequences) and isinstance(times, int)
            if sized and len(items) * times > MAX_STRING:
                raise SecurityError(
                    f"'*' would make more than {MAX_STRING} characters or items"
                )
    if operator == "+" and isinstance(left, sequences) and isinstance(right, sequences):
        _check_predicted(len(left) + len(right))


def _check_predicted(length: int | None) -> None:
    if length is not None and length > MAX_OUTPUT:
        raise SecurityError(f"a result of more than {MAX_OUTPUT} characters or items")


def _replaced(text: Any, old: Any, new: Any, count: Any = -1) -> int | None:
    """How long `text.replace(old, new, count)` would be."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return None
    found = text.count(old)
    if isinstance(count, int) and 0 <= count < found:
        found = count
    return len(text) + found * (len(new) - len(old))


def _joined(separator: Any, items: Any) -> int | None:
    """At least how long `separator.join(items)` would be."""
    if isinstance(separator, str) and hasattr(items, "__len__"):
        return len(separator) * max(len(items) - 1, 0)
    return None


def _expanded(text: str, tabsize: Any = 8) -> int | None:
    return len(text) * max(tabsize, 1) if isinstance(tabsize, int) else None


def _translated(text: str, table: Any) -> int | None:
    if not isinstance(table, Mapping):
        return None
    longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(text) * longest


def _indented(text: Any, width: Any = 4, *_: Any, **__: Any) -> int | None:
    if not isinstance(text, str):
        return None
    pad = width if isinstance(width, int) else len(str(width))
    return len(text) + (text.count("\n") + 1) * pad


def _wrapped(text: Any, width: Any = 79, *_: Any, **kwargs: Any) -> int | None:
    wrap = kwargs.get("wrapstring")
    if not (isinstance(text, str) and isinstance(width, int) and wrap):
        return None
    return len(text) + (len(text) // max(width, 1) + 1) * len(str(wrap))


_METHOD_SIZES: dict[str, Callable[..., int | None]] = {
    "replace": _replaced,
    "join": _joined,
    "expandtabs": _expanded,
    "translate": _translated,
}

_FILTER_SIZES: dict[str, Callable[..., int | None]] = {
    "replace": _replaced,
    "join": lambda items, d="", *_, **__: _joined(d, items),
    "indent": _indented,
    "wordwrap": _wrapped,
}


def _checked_filter(
    env: _Sandbox, name: str, function: Callable[..., Any]
) -> Callable[..., Any]:
    """`function` with its arguments checked like a call's, its result size
    worked out first where it can be, and the result checked after."""
    skip = 1 if getattr(function, "jinja_pass_arg", None) is None else 2
    predict = _FILTER_SIZES.get(name)

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        given = args[skip - 1 :]  # the filtered value, then the filter's arguments
        if given and isinstance(given[0], str) and _wide(given[0]):
            raise SecurityError("a format that wide is not allowed")
        _check_arguments((*given[1:], *kwargs.values()))
        if predict is not None:
            _check_predicted(predict(*given, **kwargs))
        return env.checked(function(*args, **kwargs))

    return checked


_WIDE = re.compile(
    r"%(\([^)]*\))?[-+ #0]*(\d{6,}|\d*\.\d{6,})"  # '%099999999d'
    r"|\{[^{}]*:[^{}]*\d{6,}"  # '{:>999999999}'
)


def _wide(text: str) -> bool:
    """A format string asking for a huge width or precision ('{:>99999999}')."""
    return _WIDE.search(text) is not None


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


def _check_shape(env: _Sandbox, source: str, name: str) -> nodes.Template:
    """Refuse what could run without bound before running anything; what is
    left is the template with every loop counted by the sandbox."""
    if len(source) > MAX_TEMPLATE:
        raise TemplateProblem(f"{name}: longer than {MAX_TEMPLATE} characters")
    tree = env.parse(source)
    for node in tree.find_all((nodes.Macro, nodes.CallBlock)):
        raise TemplateProblem(
            f"{name} line {node.lineno}: macros are not allowed in update templates"
        )
    for node in tree.find_all(nodes.For):
        if node.recursive:
            raise TemplateProblem(
                f"{name} line {node.lineno}: recursive loops are not allowed in "
                "update templates"
            )
        depth = _depth(tree, node)
        if depth > MAX_LOOP_DEPTH:
            raise TemplateProblem(
                f"{name} line {node.lineno}: loops nested {depth} deep; at most "
                f"{MAX_LOOP_DEPTH} are allowed"
            )
        node.iter = nodes.Filter(
            node.iter, _STEPS_FILTER, [], [], None, None, lineno=node.lineno
        )
    return tree


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
        template = env.from_string(_check_shape(env, source, name))
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
