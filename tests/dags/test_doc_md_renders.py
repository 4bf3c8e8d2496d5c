"""Every DAG's ``doc_md`` renders as the Markdown its author wrote: diagrams stay whole inside
``<pre><code>`` blocks (fenced with three backticks), and no stray backslash, collapsed diagram line or
underscore read as emphasis reaches the page: an identifier such as ``app_ids`` is written in backticks.

Rendered with markdown-it-py (CommonMark, what the UI's renderer follows); skipped when it is not
installed. A backslash in a DAG file's non-raw docstring is also caught at its source: Python turns a
trailing one into a line continuation, which silently joins two lines of a diagram.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest

from tests.support.airflow_env import load_dags

markdown_it = pytest.importorskip("markdown_it")

# DAGs of other families whose doc still has problems, until their owners fix them (then drop the entry).
TO_FIX: dict[str, str] = {}  # dag_id -> why its doc does not render yet
DAG_IDS = [pytest.param(dag_id, marks=pytest.mark.xfail(reason=TO_FIX[dag_id])) if dag_id in TO_FIX else dag_id
           for dag_id in sorted(load_dags())]
# A line of prose never has these; a diagram line outside a fence (or one a renderer collapsed) does.
DIAGRAM_LINE = re.compile(r"\S {3,}\S|\s[\\/]\s*$|[│├└┌┐┘─]")
# A fenced line this long is almost always two diagram lines joined by a backslash continuation.
MAX_FENCE_LINE = 120


@pytest.fixture(scope="module")
def dags() -> dict:
    return load_dags()


def renderer():
    return markdown_it.MarkdownIt("commonmark", {"html": False}).enable("table")


def inline_problems(inline) -> list[str]:
    """What in one run of inline Markdown (a paragraph, a heading, a cell) would render wrong."""
    problems = []
    for child in inline.children or []:
        if child.type in ("em_open", "strong_open") and "_" in child.markup:
            problems.append(f"underscores render as emphasis near {inline.content[:60]!r}")
        if child.type != "text":
            continue
        if "\\" in child.content:
            problems.append(f"stray backslash in {child.content[:60]!r}")
        for word in re.findall(r"\S*_\S*", child.content):
            problems.append(f"{word!r} outside backticks (its underscores can render as emphasis)")
    for line in inline.content.splitlines():
        if DIAGRAM_LINE.search(line):
            problems.append(f"diagram line outside a fenced code block: {line[:60]!r}")
    return problems


def doc_problems(doc: str) -> list[str]:
    """Everything in ``doc`` that would not render as written; empty when it renders cleanly."""
    md = renderer()
    tokens = md.parse(doc)
    rendered = md.render(doc)
    problems = []
    for token in tokens:
        if token.type == "code_block":
            problems.append(f"indented code block (use a ``` fence): {token.content.splitlines()[0][:60]!r}")
        elif token.type == "fence":
            if f"<pre><code>{html.escape(token.content, quote=False)}</code></pre>" not in rendered.replace(
                    "&quot;", '"'):
                problems.append(f"fence not rendered as <pre><code>: {token.content[:60]!r}")
            problems.extend(f"fenced line of {len(line)} characters (two lines joined?): {line[:60]!r}"
                            for line in token.content.splitlines() if len(line) > MAX_FENCE_LINE)
        elif token.type == "inline":
            problems.extend(inline_problems(token))
    return problems


def docstring_escape_problem(path: Path) -> str | None:
    """The module docstring of ``path`` when Python's escape processing changes it (a ``\\`` in a non-raw
    string): the doc then differs from what the file shows."""
    source = path.read_text(encoding="utf-8")
    module = ast.parse(source)
    if not (module.body and isinstance(module.body[0], ast.Expr) and isinstance(module.body[0].value, ast.Constant)):
        return None
    node = module.body[0].value
    literal = ast.get_source_segment(source, node) or ""
    prefix = literal[: len(literal) - len(literal.lstrip("rRbBuUfF"))]
    body = literal[len(prefix):]
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    if "r" in prefix.lower() or body[len(quote):-len(quote)] == node.value:
        return None
    return f"{path.name}: the module docstring has escape sequences (a trailing \\ joins lines): make it r\"\"\""


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_doc_md_renders_as_written(dag_id, dags):
    dag = dags[dag_id]
    assert dag.doc_md, f"{dag_id} has no doc_md"

    problems = doc_problems(dag.doc_md)
    escape = docstring_escape_problem(Path(dag.fileloc))
    if escape and dag.doc_md.strip() in (ast.get_docstring(ast.parse(Path(dag.fileloc).read_text()), clean=False)
                                         or "").strip():
        problems.append(escape)

    assert problems == [], f"{dag_id}: " + "; ".join(problems)


@pytest.mark.parametrize(
    ("doc", "found"),
    [
        ("Stages new app_ids only.", "'app_ids' outside backticks"),
        ("Keeps __dunder__ names.", "underscores render as emphasis"),
        ("a -> b    \\\n       -> c\nd -> e    /\n", "diagram line outside a fenced code block"),
        ("Diagram:\n\n    a -> b\n    c -> d\n", "indented code block"),
        ("```\n" + "a -> b" + " " * 120 + "-> c\n```\n", "two lines joined?"),
        ("Path C:\\\\temp", "stray backslash"),
    ],
)
def test_the_check_finds_what_renders_wrong(doc, found):
    assert any(found in problem for problem in doc_problems(doc)), doc_problems(doc)


def test_the_check_passes_a_clean_doc():
    doc = "### Title\n\nRuns `app_ids` and **bold**:\n\n```\na -> b    \\\n        -> c\n```\n"
    assert doc_problems(doc) == []


def test_a_trailing_backslash_in_a_plain_docstring_is_caught(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text('"""\n```\na  \\\nb\n```\n"""\n')
    raw = tmp_path / "raw.py"
    raw.write_text('r"""\n```\na  \\\nb\n```\n"""\n')

    assert "make it r" in (docstring_escape_problem(plain) or "")
    assert docstring_escape_problem(raw) is None
