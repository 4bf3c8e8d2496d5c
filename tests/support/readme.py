"""The README and the pages under ``docs/`` as tests read them: a section by its heading, its fenced code
blocks. Tests run or check what the docs show (commands, conf examples, the alert payload), so the docs cannot
drift from the code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: The runbook: operating the pipelines (trigger, rerun, backfill, alerts, the command lines).
RUNBOOK = ROOT / "docs" / "runbook.md"
_HEADING = re.compile(r"^(#+) ", re.M)


def section(heading: str, doc: Path = README) -> str:
    """The text of ``doc`` under the heading line ``heading`` (e.g. ``"### Rerun: OpenDental"``), up to the
    next heading of the same or a higher level (a ``#`` line inside a code block is no heading)."""
    lines = doc.read_text().splitlines(keepends=True)
    assert heading + "\n" in lines, f"{doc.relative_to(ROOT)} has no heading {heading!r}"
    level = len(heading) - len(heading.lstrip("#"))
    body, in_code = [], False
    for line in lines[lines.index(heading + "\n") + 1:]:
        in_code ^= line.startswith("```")
        heading_match = None if in_code else _HEADING.match(line)
        if heading_match and len(heading_match.group(1)) <= level:
            break
        body.append(line)
    return "".join(body)


def code_blocks(heading: str, language: str, containing: str = "", doc: Path = README) -> list[str]:
    """The fenced ``language`` blocks of a section of ``doc`` that contain ``containing``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", section(heading, doc), re.S)
    return [block for block in blocks if containing in block]


def code_block(heading: str, language: str, containing: str = "", doc: Path = README) -> str:
    """The one fenced ``language`` block of a section of ``doc`` that contains ``containing``."""
    blocks = code_blocks(heading, language, containing, doc)
    where = f"{doc.relative_to(ROOT)} {heading}"
    assert len(blocks) == 1, f"{where}: {len(blocks)} {language} blocks contain {containing!r}"
    return blocks[0]


#: The pages whose shell blocks an operator runs: every one is run by a test, or marked as not runnable here.
COMMAND_PAGES = (README, RUNBOOK, ROOT / "docs" / "try-a-failure.md", ROOT / "docs" / "observability.md",
                 *sorted((ROOT / "docs" / "pipelines").glob("*.md")))
#: ``<!-- runbook: skip (why it cannot run here) -->`` or ``<!-- runbook: e2e (tests/...py that runs it) -->``,
#: on the line before a block's opening fence.
_MARK = re.compile(r"^<!-- runbook: (?P<kind>skip|e2e) \((?P<reason>.+)\) -->$")
_FENCE = re.compile(r"^(?P<indent> *)```(?P<language>\S*)$")
SHELL_LANGUAGES = ("bash", "sh", "shell", "console")


@dataclass(frozen=True)
class ShellBlock:
    """A fenced shell block of a page: where it is, its text, and how it is marked (``None``: run here)."""

    doc: Path
    line: int  # of the opening fence, 1-based
    text: str
    mark: str | None = None  # "skip" or "e2e"
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def shell_blocks(doc: Path) -> list[ShellBlock]:
    """Every fenced shell block of ``doc`` (indented blocks too, their indent removed), with its mark."""
    lines = doc.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        indent, end = len(fence["indent"]), index + 1
        while not lines[end].strip().startswith("```"):
            end += 1
        if fence["language"] in SHELL_LANGUAGES:
            before = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
            mark = _MARK.match(before)
            text = "".join(line[indent:] + "\n" for line in lines[index + 1:end])
            blocks.append(ShellBlock(doc, index + 1, text, mark and mark["kind"], mark["reason"] if mark else ""))
        index = end + 1
    return blocks
