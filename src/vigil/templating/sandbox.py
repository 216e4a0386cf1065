"""The one Jinja2 sandbox for text people write: notification templates and correlation
rule titles. It is Jinja's immutable sandbox with bounds, so a hostile template can
neither escape nor freeze the process:

- nothing is computed while compiling (no optimizer, arithmetic intercepted, every filter
  runs at render time), so ``{{ 9**(9**8) }}`` costs nothing until it is rendered;
- ``**``, ``*``, ``+`` and ``%`` check the size of what they would make before making it
  (``'a'*10**9``, ``9**(9**8)``); ``range()`` stops at :data:`MAX_RANGE`; filters and
  string methods that can amplify (``replace``, ``join``, ``indent``, ``center``,
  ``format`` widths ...) are estimated first;
- a render has a budget: steps (loop iterations, calls, filters, attribute reads),
  characters made (outputs, also into ``{% set %}`` blocks and macros, and results of
  operations), the size of any one value, the rendered text's length, and a wall-clock
  deadline as a backstop;
- reading an unsafe attribute (``''.__class__``) fails at once instead of rendering as
  nothing; ``include``, ``import`` and ``extend`` are refused (there is nothing to load).

Every bound hit and every sandbox refusal raises :class:`TemplateRefused`. Callers turn it
into a 422 naming the field (save time, preview) or fall back to a default text
(delivery). :func:`compile_checked` compiles and makes a trial render on sample data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, pass_context
from jinja2.visitor import NodeTransformer

from vigil.errors import InvalidInput
from vigil.templating.costs import (
    BINOPS,
    CURRENT,
    FILTER_CHECKS,
    MAX_RANGE,
    METHOD_CHECKS,
    Budget,
    Limits,
    TemplateRefused,
    check_binop,
    check_str_format,
    current,
    int_arg,
    measure,
)

__all__ = ["BoundedEnvironment", "BoundedTemplate", "Limits", "TemplateRefused",
           "compile_checked", "render_checked"]


# --- the environment -----------------------------------------------------------------------

def _literal_chars(node: nodes.Node) -> int:
    return sum(len(d.data) for d in node.find_all(nodes.TemplateData))


class _Guard(NodeTransformer):
    """Counts every loop iteration (and the literal text it emits), checks every ``~``
    result, and refuses what needs a loader."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        cost = 1 + sum(_literal_chars(n) for n in (*node.body, *node.else_))
        node.iter = nodes.Filter(node.iter, _LOOP, [nodes.Const(cost)], [], None, None,
                                 lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, _MADE, [], [], None, None, lineno=node.lineno)

    def _refuse(self, node: nodes.Node) -> nodes.Node:
        raise TemplateSyntaxError("templates cannot include, import or extend others",
                                  node.lineno)

    visit_Extends = visit_Include = visit_Import = visit_FromImport = _refuse


_LOOP = "_vigil_loop"
_MADE = "_vigil_made"


@pass_context
def _loop(context: Context, iterable: Any, cost: int) -> Iterator[Any]:
    budget = current()
    for item in iterable:
        budget.spend(1, cost)
        yield item


@pass_context
def _made(context: Context, value: Any) -> Any:
    return current().made(value)


def _range(*args: int) -> range:
    for a in args:
        int_arg(a, "range", 2**62)
    found = range(*args)
    if len(found) > MAX_RANGE:
        raise TemplateRefused(f"range() makes at most {MAX_RANGE} items")
    return found


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Every ``{{ }}`` output, also into ``{% set %}`` blocks and macros, is charged."""
    budget = current()
    if isinstance(value, str):
        budget.spend(1, len(value))
    else:
        items, chars = measure(value)
        budget.spend(1 + items // 4, chars)
    return value


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    kind = _PassArg.from_obj(func)
    check = FILTER_CHECKS.get(name)

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        if check is not None:
            check(value, args, kwargs)
        if kind is _PassArg.context:
            out = func(context, value, *args, **kwargs)
        elif kind is _PassArg.eval_context:
            out = func(context.eval_ctx, value, *args, **kwargs)
        elif kind is _PassArg.environment:
            out = func(context.environment, value, *args, **kwargs)
        else:
            out = func(value, *args, **kwargs)
        return budget.made(out)

    return guarded


class BoundedTemplate(Template):
    """Renders within the environment's :class:`Limits`."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        env = self.environment
        assert isinstance(env, BoundedEnvironment)
        limits = env.limits
        ctx = self.new_context(dict(*args, **kwargs))
        token = CURRENT.set(Budget(limits))
        chunks = self.root_render_func(ctx)
        try:
            out: list[str] = []
            size = 0
            for chunk in chunks:
                size += len(chunk)
                if size > limits.output:
                    raise TemplateRefused(f"the text is longer than {limits.output} "
                                          "characters")
                out.append(chunk)
            return "".join(out)
        except TemplateRefused:
            raise
        except SecurityError as exc:
            raise TemplateRefused(str(exc)) from None
        except (RecursionError, MemoryError):
            raise TemplateRefused("the template recurses or grows too far") from None
        except Exception:
            env.handle_exception()
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            CURRENT.reset(token)

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        yield self.render(*args, **kwargs)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, bounded (see the module's doc). One class for every
    template people write; instances differ only in Jinja options and :class:`Limits`."""

    intercepted_binops = frozenset(BINOPS)
    template_class = BoundedTemplate

    def __init__(self, limits: Limits | None = None, **options: Any) -> None:
        super().__init__(optimized=False, finalize=_finalize, **options)
        self.limits = limits or Limits()
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP] = _loop
        self.filters[_MADE] = _made
        self.globals.pop("lipsum", None)
        self.globals["range"] = _range

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        guarded = _Guard().visit(tree)
        assert isinstance(guarded, nodes.Template)
        guarded.set_environment(self)
        return guarded

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        budget.step()
        check_binop(operator, left, right)
        return budget.made(BINOPS[operator](left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        current().step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = current()
        budget.step()
        found = super().getitem(obj, argument)
        if isinstance(argument, slice):
            budget.made(found)
        return found

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise TemplateRefused(f"the template may not read {attribute!r} of a "
                              f"{type(obj).__name__}")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = str(value.__self__)
        inner = wrapped

        def checked(*args: Any, **kwargs: Any) -> str:
            budget = current()
            budget.step()
            check_str_format(fmt, args, kwargs)
            out = inner(*args, **kwargs)
            budget.made(out)
            return out

        return checked

    def call(__self, __context: Context, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, bytes, int, float)):
            check = METHOD_CHECKS.get(getattr(__obj, "__name__", ""))
            if check is not None:
                check(owner, args, kwargs)
        out = super().call(__context, __obj, *args, **kwargs)
        return budget.made(out)


def compile_checked(env: BoundedEnvironment, source: str, field: str,
                    sample: Mapping[str, Any]) -> Template:
    """Compile ``source`` and render it once on ``sample``: a syntax error, a sandbox
    refusal or a bound hit is a 422 naming ``field``. Errors that depend on the data (a
    missing label, a type) are left to the real render, which has a fallback."""
    try:
        template = env.from_string(source)
    except TemplateRefused as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None
    except TemplateError as exc:
        raise InvalidInput(f"{field}: invalid template: {exc}", field=field) from None
    except Exception as exc:  # e.g. nested too deeply for Python to compile
        raise InvalidInput(f"{field}: invalid template: {type(exc).__name__}",
                           field=field) from None
    try:
        template.render(sample)
    except TemplateRefused as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None
    except Exception:  # depends on the data; the real render falls back
        pass
    return template


def render_checked(template: Template, context: Mapping[str, Any], field: str) -> str:
    """Render for someone waiting on the answer (a preview): any failure is a 422 naming
    ``field``, never a 500."""
    try:
        return template.render(context)
    except TemplateRefused as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None
    except Exception as exc:
        raise InvalidInput(f"{field}: the template fails: {type(exc).__name__}: {exc}",
                           field=field) from None
