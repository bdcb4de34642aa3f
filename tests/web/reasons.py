"""Every reason the server can record, read from its source: why a call ended (`calls.reason`) and why
a visit was decided so (`visits.reason`), as templates — the fixed text, with a hole for each part
made at run time (an f-string's `{…}`: a number, a dial string, an error's text, a nested reason).

Where reasons are made:
- the `reason` of every `CallEnded` and `VisitDecided` built in the files of READ;
- the argument bound to a parameter named `reason` of a function defined in those files (the call
  session's `_finish` and `_say_and_hang_up`, the visit's `decided`; in the AudioSocket server only
  the connection's `_end`, whose `end_reason` becomes a call's reason when the caller hangs up);
- the value an SQL statement of the records writes into a `reason` column (`server stopped mid-call`).

Each value is traced back through local names, tuples unpacked, `self.` attributes, module constants
and imports; a value passed on (a sink's own `reason` parameter, an event's `.reason`) is read where
it was made. The reader fails closed: a reason made in a way it does not follow raises `Untraced`
with the file and line, and a CallEnded or VisitDecided built in a file outside READ raises too — so
a new kind of reason is taught here, never skipped.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import concierge
from concierge.call.events import CallEnded
from concierge.call.visit import VisitDecided

PACKAGE = Path(concierge.__file__).resolve().parent
# file (under concierge/) -> the functions with a `reason` parameter that count (None: every one)
READ: dict[str, frozenset[str] | None] = {
    "call/session.py": None,
    "call/visit.py": None,
    "call/resident.py": None,
    "audiosocket/server.py": frozenset({"_end"}),  # not `_refused`: a refused connection is no call, and has no record
}
RECORDS = "call/records.py"
EVENTS = {cls.__name__: [field.name for field in dataclasses.fields(cls)].index("reason") for cls in (CallEnded, VisitDecided)}
PASSED_ON = {"reason", "end_reason"}  # `x.reason` / `x.end_reason`: read where it was made (an event, Connection._end)
WRITES_REASON = re.compile(r"(?<![.\w])reason\s*=\s*(\?|'((?:[^']|'')*)')")
HOLE = None


class Untraced(AssertionError):
    """A reason made in a way this reader does not follow."""


@dataclass(frozen=True)
class Reason:
    parts: tuple[str | None, ...]  # text, and HOLE for each part made at run time
    where: str  # file:line of the place that records it

    @property
    def template(self) -> str:
        return "".join("{}" if part is HOLE else part for part in self.parts)

    def sample(self, first: int = 41) -> tuple[str, list[str]]:
        """The reason with its holes filled (41, 42, …), and the values filled in."""
        values = iter(itertools.count(first))
        filled = [str(next(values)) if part is HOLE else part for part in self.parts]
        return "".join(filled), [text for text, part in zip(filled, self.parts, strict=True) if part is HOLE]


def _joined(templates: list[tuple[str | None, ...]]) -> tuple[str | None, ...]:
    """Adjacent text merged; holes kept apart."""
    parts: list[str | None] = []
    for part in itertools.chain.from_iterable(templates):
        if part is not HOLE and parts and parts[-1] is not HOLE:
            parts[-1] += part
        elif part != "":
            parts.append(part)
    return tuple(parts)


class Module:
    def __init__(self, relative: str, source: str | None = None) -> None:
        self.relative = relative
        self.tree = ast.parse((PACKAGE / relative).read_text(encoding="utf-8") if source is None else source, relative)
        self.parent = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}
        self.constants = {
            target.id: node.value
            for node in self.tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }  # fmt: skip
        self.imports = {
            alias.asname or alias.name: (node.module, alias.name)
            for node in self.tree.body
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("concierge.")
            for alias in node.names
        }  # fmt: skip

    def at(self, node: ast.AST) -> str:
        return f"concierge/{self.relative}:{getattr(node, 'lineno', '?')}"

    def functions(self, node: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The functions around `node`, innermost first."""
        found = []
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append(node)
        return found

    def defs(self) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
        return (node for node in ast.walk(self.tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))


class Reader:
    def __init__(self) -> None:
        self.modules: dict[str, Module] = {}
        self.found: dict[str, Reason] = {}  # template -> the first place it is recorded

    def module(self, relative: str) -> Module:
        if relative not in self.modules:
            self.modules[relative] = Module(relative)
        return self.modules[relative]

    # -- where reasons are recorded ---------------------------------------------------------------

    def read(self) -> list[Reason]:
        self._check_nothing_else_makes_events()
        for relative, only in READ.items():
            self._read_sinks(self.module(relative), only)
        self._read_record_writes(self.module(RECORDS))
        return sorted(self.found.values(), key=lambda reason: reason.template)

    def _check_nothing_else_makes_events(self) -> None:
        for path in sorted(PACKAGE.rglob("*.py")):
            relative = path.relative_to(PACKAGE).as_posix()
            if relative in READ or relative.startswith("web/"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and _callee(node) in EVENTS:
                    raise Untraced(f"concierge/{relative}:{node.lineno} makes a {_callee(node)}: add the file to READ in {__file__}")

    def _sinks(self, module: Module, only: frozenset[str] | None) -> dict[str, tuple[int, bool]]:
        """Function name -> (index of its `reason` parameter, whether it is a method)."""
        sinks = {}
        for function in module.defs():
            names = [arg.arg for arg in function.args.posonlyargs + function.args.args]
            if "reason" in names and (only is None or function.name in only):
                method = bool(names) and names[0] == "self"
                sinks[function.name] = (names.index("reason") - method, method)
        return sinks

    def read_source(self, relative: str, source: str, only: frozenset[str] | None = None) -> list[Reason]:
        """The reasons recorded in `source`, read as if it were concierge/`relative` (to test this reader)."""
        self.modules[relative] = Module(relative, source)
        self._read_sinks(self.modules[relative], only)
        return sorted(self.found.values(), key=lambda reason: reason.template)

    def _read_sinks(self, module: Module, only: frozenset[str] | None) -> None:
        sinks = self._sinks(module, only)
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            if name in EVENTS:
                index = EVENTS[name]
            elif name in sinks:
                index = sinks[name][0]
            else:
                continue
            given = node.args[index] if index < len(node.args) else next((k.value for k in node.keywords if k.arg == "reason"), None)
            if given is not None:
                self._add(module, node, self.resolve(module, given, sinks))

    def _read_record_writes(self, module: Module) -> None:
        """The values the records' SQL writes into a `reason` column: a quoted literal, or its `?` parameter's value."""
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            for match in WRITES_REASON.finditer(node.value):
                if match.group(2) is not None:
                    self._add(module, node, {(match.group(2).replace("''", "'"),)})
                    continue
                index = node.value[: match.start()].count("?")
                holder = module.parent.get(node)
                if isinstance(holder, ast.Tuple) and holder.elts[0] is node and len(holder.elts) == 2:
                    params = holder.elts[1]
                elif isinstance(holder, ast.Call) and holder.args and holder.args[0] is node and len(holder.args) > 1:
                    params = holder.args[1]
                else:
                    raise Untraced(f"{module.at(node)}: SQL writing a reason whose parameters cannot be found")
                self._add(module, node, self.item(module, params, index, {}))

    def _add(self, module: Module, node: ast.AST, templates: set[tuple[str | None, ...]]) -> None:
        for parts in templates:
            reason = Reason(parts, module.at(node))
            self.found.setdefault(reason.template, reason)

    # -- tracing a value back ---------------------------------------------------------------------

    def resolve(self, module: Module, expr: ast.expr, sinks: dict) -> set[tuple[str | None, ...]]:
        """The templates `expr` can be (empty: none, or only reasons read elsewhere)."""
        if isinstance(expr, ast.Constant):
            if expr.value is None:
                return set()
            if isinstance(expr.value, str):
                return {(expr.value,)}
        elif isinstance(expr, ast.JoinedStr):
            choices = []
            for value in expr.values:
                if isinstance(value, ast.Constant):
                    choices.append([(value.value,)])
                else:
                    constant = self.constant(module, value.value)
                    choices.append(sorted(constant) if constant and value.format_spec is None and value.conversion == -1 else [(HOLE,)])
            return {_joined(list(parts)) for parts in itertools.product(*choices)}
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            left, right = self.resolve(module, expr.left, sinks), self.resolve(module, expr.right, sinks)
            return {_joined([a, b]) for a in left for b in right}
        elif isinstance(expr, ast.IfExp):
            return self.resolve(module, expr.body, sinks) | self.resolve(module, expr.orelse, sinks)
        elif isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            return set().union(*(self.resolve(module, value, sinks) for value in expr.values))
        elif isinstance(expr, ast.Name):
            return self.name(module, expr, None, sinks)
        elif isinstance(expr, ast.Attribute):
            if expr.attr in PASSED_ON:
                return set()
            if isinstance(expr.value, ast.Name) and expr.value.id == "self":
                return self.attribute(module, expr, None, sinks)
        raise Untraced(f"{module.at(expr)}: cannot trace the reason {ast.unparse(expr)!r}")

    def item(self, module: Module, expr: ast.expr, index: int, sinks: dict) -> set[tuple[str | None, ...]]:
        """The templates of element `index` of the tuples `expr` can be."""
        if isinstance(expr, ast.Tuple):
            return self.resolve(module, expr.elts[index], sinks)
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp)):
            return self.item(module, expr.elt, index, sinks)
        if isinstance(expr, ast.List):
            return set().union(*(self.item(module, element, index, sinks) for element in expr.elts))
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            return set().union(*(self.item(module, value, index, sinks) for value in expr.values))
        if isinstance(expr, ast.Constant) and expr.value is None:
            return set()
        if isinstance(expr, ast.Name):
            return self.name(module, expr, index, sinks)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
            return self.attribute(module, expr, index, sinks)
        raise Untraced(f"{module.at(expr)}: cannot trace the reason in {ast.unparse(expr)!r}")

    def _value(self, module: Module, value: ast.expr, index: int | None, sinks: dict) -> set[tuple[str | None, ...]]:
        return self.resolve(module, value, sinks) if index is None else self.item(module, value, index, sinks)

    def name(self, module: Module, expr: ast.Name, index: int | None, sinks: dict) -> set[tuple[str | None, ...]]:
        for function in module.functions(expr):
            names = [arg.arg for arg in function.args.posonlyargs + function.args.args + function.args.kwonlyargs]
            if expr.id in names:
                if expr.id == "reason" and index is None and function.name in sinks:
                    return set()  # the sink's own parameter: read at its calls
                raise Untraced(f"{module.at(expr)}: the reason comes from {function.name}()'s parameter {expr.id!r}")
            assigned = set()
            found = False
            for node in ast.walk(function):
                if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None or module.functions(node)[:1] != [function]:
                    continue
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name) and target.id == expr.id:
                        found = True
                        assigned |= self._value(module, node.value, index, sinks)
                    elif isinstance(target, ast.Tuple) and any(isinstance(e, ast.Name) and e.id == expr.id for e in target.elts):
                        if index is not None:
                            raise Untraced(f"{module.at(node)}: a reason nested in tuples")
                        found = True
                        position = next(i for i, e in enumerate(target.elts) if isinstance(e, ast.Name) and e.id == expr.id)
                        assigned |= self.item(module, node.value, position, sinks)
            if found:
                return assigned
        if expr.id in module.constants:
            return self._value(module, module.constants[expr.id], index, {})
        if expr.id in module.imports:
            source, original = module.imports[expr.id]
            other = self.module(source.removeprefix("concierge.").replace(".", "/") + ".py")
            return self.name(other, ast.Name(original, ast.Load()), index, {})
        raise Untraced(f"{module.at(expr)}: cannot find where {expr.id!r} is set")

    def attribute(self, module: Module, expr: ast.Attribute, index: int | None, sinks: dict) -> set[tuple[str | None, ...]]:
        """`self.<attr>`: every value assigned to it in the module."""
        assigned = set()
        found = False
        for node in ast.walk(module.tree):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Attribute) and target.attr == expr.attr and isinstance(target.value, ast.Name) and target.value.id == "self":
                    found = True
                    assigned |= self._value(module, node.value, index, sinks)
        if not found:
            raise Untraced(f"{module.at(expr)}: nothing sets self.{expr.attr}")
        return assigned

    def constant(self, module: Module, expr: ast.expr) -> set[tuple[str | None, ...]] | None:
        """The text of a module constant named in an f-string (TIME_UP), or None for a part made at run time."""
        if not isinstance(expr, ast.Name) or any(expr.id in _local_names(f) for f in module.functions(expr)):
            return None
        if expr.id in module.constants:
            value = module.constants[expr.id]
            return {(value.value,)} if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
        if expr.id in module.imports:
            source, original = module.imports[expr.id]
            other = self.module(source.removeprefix("concierge.").replace(".", "/") + ".py")
            return self.constant(other, ast.Name(original, ast.Load())) if original in other.constants else None
        return None


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = {arg.arg for arg in function.args.posonlyargs + function.args.args + function.args.kwonlyargs}
    return names | {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def recorded_reasons() -> list[Reason]:
    """Every reason the server can record today, as templates."""
    return Reader().read()
