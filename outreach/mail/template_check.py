"""Save-time check of a user's template: every variable it reads must be one the context provides.

Templates are shared by all campaigns, so they are checked against every documented variable
(render.VARIABLES), then rendered once against those variables' examples so that an expression that
fails for any prospect (`{{ 1 / 0 }}`) is refused when saved, not at enrolment.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes

from outreach.mail.render import _HTML_ENV, _TEXT_ENV, VARIABLES, RenderError, render_email, wrap

#: names a template may read besides the context: Jinja's own
_GLOBALS = frozenset({"range", "loop", "true", "false", "none", "True", "False", "None"})


@dataclass
class _List:
    item: dict[str, Any] = field(default_factory=dict)


_ANY = object()


def _shape(leaf: Any, make_list: Any) -> dict[str, Any]:
    """Nest VARIABLES into dicts; `name[].field` makes `name` a list (make_list) of dicts."""
    root: dict[str, Any] = {}
    for name, _what, example in VARIABLES:
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            if part.endswith("[]"):
                if not isinstance(node.get(part[:-2]), _List):
                    node[part[:-2]] = _List()
                node = node[part[:-2]].item
            else:
                node = node.setdefault(part, {})
        if parts[-1] not in node:
            node[parts[-1]] = leaf(example, parts[-1])
    return make_list(root)


def schema() -> dict[str, Any]:
    """The context's shape: dicts of names, _List for lists, "" for a value."""
    return _shape(lambda example, name: "", lambda root: root)


def sample_context() -> dict[str, Any]:
    """Every variable filled with its example (each list with one item), wrapped as the real context is."""
    def lists_to_values(node: Any) -> Any:
        if isinstance(node, _List):
            return [lists_to_values(node.item)]
        if isinstance(node, dict):
            return {key: lists_to_values(value) for key, value in node.items()}
        return node

    return wrap(_shape(lambda example, name: example or name, lists_to_values))


class _Checker:
    def __init__(self, what: str) -> None:
        self.what = what
        self.root = schema()

    def unknown(self, node: nodes.Node, path: str, name: str, known: Any) -> None:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        full = f"{path}.{name}" if path else name
        hint = f" (did you mean {path + '.' if path else ''}{close[0]}?)" if close else ""
        if not close and known:
            names = ", ".join(sorted(known)[:8])
            hint = f" (known here: {names})"
        raise RenderError(f"line {node.lineno} of the {self.what}: {full} is not a known variable{hint}",
                          variable=full, line=node.lineno,
                          suggestion=f"{path + '.' if path else ''}{close[0]}" if close else None)

    def resolve(self, node: nodes.Node, scope: dict[str, tuple[str, Any]]) -> tuple[str, Any]:
        """(dotted path, shape) of a Name/Getattr/Getitem chain; other expressions are visited and are _ANY."""
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            if node.name in self.root:
                return node.name, self.root[node.name]
            if node.name in _GLOBALS:
                return node.name, _ANY
            self.unknown(node, "", node.name, self.root)
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            path, shape = self.resolve(node.node, scope)
            if isinstance(node, nodes.Getitem):
                if isinstance(shape, _List) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, int):
                    return f"{path}[{node.arg.value}]", shape.item
                if not (isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)):
                    self.visit(node.arg, scope)
                    return path, _ANY
                name = node.arg.value
            else:
                name = node.attr
            if isinstance(shape, dict):
                if name not in shape:
                    self.unknown(node, path, name, shape)
                return f"{path}.{name}", shape[name]
            return f"{path}.{name}", _ANY  # a value's own methods (upper, title...): the sandbox decides
        self.visit(node, scope)
        return "", _ANY

    def visit(self, node: nodes.Node, scope: dict[str, tuple[str, Any]]) -> None:
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            if not (isinstance(node, nodes.Name) and node.ctx != "load"):
                self.resolve(node, scope)
            return
        if isinstance(node, nodes.For):
            _, shape = self.resolve(node.iter, scope)
            inner = dict(scope)
            item = shape.item if isinstance(shape, _List) else _ANY
            targets = _names(node.target)
            for target in targets:
                inner[target.name] = (target.name, item if len(targets) == 1 else _ANY)
            inner["loop"] = ("loop", _ANY)
            for child in [*node.body, *([node.test] if node.test else [])]:
                self.visit(child, inner)
            for child in node.else_:
                self.visit(child, scope)
            return
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            if isinstance(node, nodes.Assign):
                self.visit(node.node, scope)
            else:
                for child in node.body:
                    self.visit(child, scope)
            for target in _names(node.target):
                scope[target.name] = (target.name, _ANY)
            return
        for child in node.iter_child_nodes():
            self.visit(child, scope)


def _names(target: nodes.Node) -> list[nodes.Name]:
    return [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))


def check_variables(source: str, what: str, html: bool = False) -> None:
    """RenderError naming the line and a suggestion for the first unknown variable in one template string."""
    env = _HTML_ENV if html else _TEXT_ENV
    tree = env.parse(source)
    _Checker(what).visit(tree, {})


def check_template(subject: str, body_text: str, body_html: str = "") -> None:
    """Refuse a template that reads an unknown variable or fails to render with every variable filled."""
    check_variables(subject, "subject")
    check_variables(body_text, "plain-text body")
    if body_html.strip():
        check_variables(body_html, "HTML body", html=True)
    render_email(subject, body_text, body_html, sample_context())
