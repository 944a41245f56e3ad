"""Templates compiled once per language, their fixed translations folded into the text.

A participant page holds about a hundred ``{% translate %}`` and ``{% blocktranslate %}`` tags. Django
renders each one anew on every request: a lazy string, the active language looked up through a
thread-local, the catalog, escaping; about 90 function calls a tag, a tenth of a participant's walk.
Their output depends only on the active language, so this loader (Django's cached loader, keyed by the
language too) renders each tag whose text is fixed once, when the template is compiled, and joins it
with the text around it. A ``{% blocktranslate %}`` with variables keeps them: its message is looked up
once and only the variables are rendered per request; ``{% translate "..." as name %}`` sets its
variable from the text translated once. Tags under ``{% language %}`` or ``{% autoescape %}`` (whose
output depends on more than the active language), a ``{% translate %}`` of a variable or with filters,
a ``noop`` or a context, and a ``{% blocktranslate %}`` with a plural, a context or ``as`` are left to
Django.

Three more things are fixed once a template is compiled, and done then too: the active language of
``{% get_current_language as ... %}`` (the cache is per language), the URL of ``{% static "..." %}``
with a literal path (the storage's URLs do not change while the process runs), and what a plain
``{% include "..." %}`` of a literal name includes: its nodes are spliced in, rendered in a context
layer of their own as Django's tag renders them, without looking the template up on every request
(about 70 function calls an include; a trial page has four). A template that includes itself, directly
or through another (a tree drawn by recursion), keeps that include as Django's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from django.conf import settings
from django.template import Context, Engine, Node, NodeList, TemplateDoesNotExist
from django.template.base import TextNode, render_value_in_context
from django.template.defaulttags import AutoEscapeControlNode, IfNode
from django.template.loader_tags import BlockNode, ExtendsNode, IncludeNode
from django.template.loaders import base, cached
from django.templatetags.i18n import BlockTranslateNode, GetCurrentLanguageNode, LanguageNode, TranslateNode
from django.templatetags.static import StaticNode
from django.utils import translation

# Subtrees whose output depends on more than the active language: left as Django compiled them.
_UNFOLDED = (LanguageNode, AutoEscapeControlNode)


class TranslatedBlockNode(Node):
    """A ``{% blocktranslate %}`` with variables, its message already translated: only the variables
    are rendered per request, as Django renders them (escaped unless safe)."""

    child_nodelists = ()

    def __init__(self, original: BlockTranslateNode, message: str, variables: list[str]) -> None:
        self.original, self.message, self.variables = original, message, variables

    def render(self, context: Context) -> str:
        if self.original.extra_context:
            context.update(
                {name: value.resolve(context) for name, value in self.original.extra_context.items()}
            )
        try:
            data = {name: _rendered(context.get(name, ""), context) for name in self.variables}
        finally:
            if self.original.extra_context:
                context.pop()
        try:
            return self.message % data
        except (KeyError, ValueError):  # a broken translation: Django's own fallback to the source text
            return self.original.render(context)


def _rendered(value: object, context: Context) -> str:
    """A variable as Django renders it in a template; a whole number (a trial's, the minutes left) without
    its 40 function calls of localisation, which give its digits unless thousands are separated."""
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)
    return render_value_in_context(value, context)


class TranslatedVariableNode(Node):
    """``{% translate "..." as name %}``, translated: sets the variable as Django's tag would."""

    child_nodelists = ()

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def render(self, context: Context) -> str:
        context[self.name] = self.value
        return ""


class InlinedIncludeNode(Node):
    """A ``{% include "name" %}``'s template, spliced in: its nodes rendered in a context layer of their
    own (what they set stays inside, as with Django's tag)."""

    child_nodelists = ("nodelist",)

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        with context.push():
            return self.nodelist.render(context)


def _literal(expression: object) -> str | None:
    """The string of a template expression that is a quoted literal without filters, else None."""
    var = getattr(expression, "var", None)
    if getattr(expression, "filters", True) or not isinstance(var, str):
        return None
    return var


def _fixed_translate(node: TranslateNode) -> bool:
    expression = node.filter_expression  # Django's tag made its literal a Variable
    return (
        not node.noop
        and not node.message_context
        and not expression.filters
        and expression.var.lookups is None
    )


def _inlined(node: IncludeNode, engine: Engine) -> Node:
    """A plain include of a literal name with its template's nodes spliced in, or the node itself."""
    name = _literal(node.template)
    if (name is None or node.extra_context or node.isolated_context or name.startswith(".")
            or name in _being_folded()):
        return node
    try:
        included = engine.get_template(name)
    except TemplateDoesNotExist:  # Django's error, raised when the page is rendered
        return node
    if included.nodelist.get_nodes_by_type((ExtendsNode, BlockNode)):
        return node
    return _with_source(InlinedIncludeNode(NodeList(included.nodelist)), node)


def _fixed_block(node: BlockTranslateNode) -> bool:
    return not (node.plural or node.counter or node.message_context or node.asvar)


def _folded(node: Node, engine: Engine) -> Node:
    """The node with what it renders fixed for the active language done once, or the node itself."""
    if isinstance(node, IncludeNode):
        return _inlined(node, engine)
    if isinstance(node, GetCurrentLanguageNode):
        return _with_source(TranslatedVariableNode(node.variable, translation.get_language()), node)
    if isinstance(node, StaticNode) and node.varname is None and _literal(node.path) is not None:
        try:
            return _text(node.render(Context(autoescape=engine.autoescape)), node)
        except ValueError:  # a file missing from the manifest: Django's error, raised per request
            return node
    if isinstance(node, TranslateNode) and _fixed_translate(node):
        context = Context(autoescape=engine.autoescape)
        output = node.render(context)
        if node.asvar:
            return _with_source(TranslatedVariableNode(node.asvar, context[node.asvar]), node)
        return _text(output, node)
    if isinstance(node, BlockTranslateNode) and _fixed_block(node):
        message, variables = node.render_token_list(node.singular)
        translated = translation.gettext(message)
        if not variables and not node.extra_context:
            try:
                return _text(translated % {}, node)
            except (KeyError, ValueError, TypeError):  # a broken translation: Django falls back per request
                return node
        # A missing variable renders empty here, as Django renders it with the default setting.
        if engine.string_if_invalid == "":
            return _with_source(TranslatedBlockNode(node, translated, variables), node)
    return node


def _text(value: str, source: Node) -> TextNode:
    return _with_source(TextNode(value), source)


def _with_source(node: Node, source: Node) -> Node:
    """Where the template's error messages (in debug) place the node: where its source tag was."""
    node.token, node.origin = source.token, getattr(source, "origin", None)
    return node


def fold(nodelist: NodeList, engine: Engine) -> None:
    """Fold every fixed translation in ``nodelist`` and its children, joining neighbouring text."""
    folded: list[Node] = []
    for node in nodelist:
        if isinstance(node, _UNFOLDED):
            folded.append(node)
            continue
        node = _folded(node, engine)
        for child in _child_nodelists(node):
            fold(child, engine)
        if isinstance(node, TextNode) and folded and isinstance(folded[-1], TextNode):
            folded[-1] = _text(folded[-1].s + node.s, folded[-1])
        else:
            folded.append(node)
    nodelist[:] = folded


def _child_nodelists(node: Node) -> Iterable[NodeList]:
    if isinstance(node, IfNode):  # its `nodelist` is a fresh list each time; the branches are not
        return (branch for _, branch in node.conditions_nodelists)
    children = (getattr(node, name, None) for name in node.child_nodelists)
    return (child for child in children if isinstance(child, NodeList))


class _FoldingLoader(base.Loader):
    """Between the cached loader and Django's base loader: a template is folded before it is cached."""

    def get_template(self, template_name: str, skip: list | None = None):
        template = super().get_template(template_name, skip)
        folding = _being_folded()
        folding.append(template_name)
        try:
            fold(template.nodelist, self.engine)
        finally:
            folding.pop()
        return template


_folding = threading.local()


def _being_folded() -> list[str]:
    """The templates this thread is folding, outermost first: one that includes itself, directly or not
    (a tree drawn by recursion), keeps that include as Django's, rendered when reached."""
    if not hasattr(_folding, "names"):
        _folding.names = []
    return _folding.names


class Loader(cached.Loader, _FoldingLoader):
    """Django's cached loader, one compiled template per language."""

    def cache_key(self, template_name: str, skip: list | None = None) -> str:
        return f"{translation.get_language()}:{super().cache_key(template_name, skip)}"
