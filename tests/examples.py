"""The command examples of README.md and of the config files' comments, as a user would type them.

An example is a line that names one of tformer's programs (``tformer-train ...``, or
``torchrun ... -m tformer.cli.train ...``), in a README code block (``\\`` continues it on the
next line), in an inline code span of the README's prose, or in a YAML comment (continued the
same way). ``...`` stands for "any run" and is dropped; ``# ...`` after a command is a comment.
A code-block line that starts with ``$`` shows output below it: that command must fail with
the lines shown.
"""

from __future__ import annotations

import re
import shlex
from importlib.metadata import entry_points
from pathlib import Path
from typing import Iterator, NamedTuple

__all__ = ["Example", "PROGRAMS", "readme_examples", "comment_examples"]

PLACEHOLDER = "..."
# tformer's console scripts, program -> module: "tformer-train" -> "tformer.cli.train"
PROGRAMS = {ep.name: ep.value.partition(":")[0] for ep in entry_points(group="console_scripts")
            if ep.value.startswith("tformer.")}
_COMMAND = re.compile(r"(?:^|\s)(?:(?P<program>tformer-[a-z]+)|-m\s+(?P<module>tformer\.cli\.\w+))(?=\s|$)")
_INLINE = re.compile(r"`([^`\n]+)`")


class Example(NamedTuple):
    """One command example and where it is written."""

    where: str  # "README.md:80"
    program: str  # "tformer-train"
    args: list[str]  # the arguments after the program, without placeholders and comments
    shown_error: list[str]  # for a "$ command" with output below it: the lines that output shows


def parse_command(text: str, where: str) -> Example | None:
    """The example in ``text`` (a line of a code block, a comment or an inline span), or None."""
    match = _COMMAND.search(text)
    if match is None:
        return None
    modules = {module: program for program, module in PROGRAMS.items()}
    program = match["program"] or modules.get(match["module"], match["module"])
    args = [arg for arg in shlex.split(text[match.end():], comments=True) if arg != PLACEHOLDER]
    return Example(where, program, args, [])


def _joined(lines: list[str], start: int) -> tuple[str, int]:
    """Line ``start`` with the lines its trailing backslashes continue onto; the index after them."""
    text, end = lines[start], start + 1
    while text.rstrip().endswith("\\") and end < len(lines):
        text = text.rstrip()[:-1] + " " + lines[end].lstrip("# \t")
        end += 1
    return text, end


def readme_examples(text: str, name: str = "README.md") -> list[Example]:
    """Every example of a Markdown document: code-block lines and inline code spans of its prose."""
    lines, examples = text.splitlines(), []
    index, in_block = 0, False
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            in_block, index = not in_block, index + 1
            continue
        if not in_block:
            examples += _inline_examples(line, f"{name}:{index + 1}")
            index += 1
            continue
        command, end = _joined(lines, index)
        example = parse_command(command, f"{name}:{index + 1}")
        if example is not None and command.lstrip().startswith("$ "):
            end, shown = _shown_output(lines, end)
            example = example._replace(shown_error=shown)
        if example is not None:
            examples.append(example)
        index = end
    return examples


def _inline_examples(line: str, where: str) -> list[Example]:
    # A span that is a program and its arguments is an example; a bare program name is a mention.
    # (prose also names distributions, "tformer-kmer 0.1.0": only tformer's programs count there).
    found = [parse_command(span, where) for span in _INLINE.findall(line) if _COMMAND.match(span)]
    return [example for example in found if example is not None and example.args and example.program in PROGRAMS]


def _shown_output(lines: list[str], start: int) -> tuple[int, list[str]]:
    """The output lines below a ``$ command`` up to the end of its code block."""
    end = start
    while end < len(lines) and not lines[end].lstrip().startswith(("```", "$ ")):
        end += 1
    shown = [line.strip() for line in lines[start:end]]
    return end, [line for line in shown if line and line != PLACEHOLDER]


def comment_examples(path: Path, root: Path) -> Iterator[Example]:
    """Every example in the whole-line ``#`` comments of a YAML file."""
    lines = path.read_text().splitlines()
    comments = [line.lstrip()[1:] if line.lstrip().startswith("#") else "" for line in lines]
    index = 0
    while index < len(comments):
        text, end = _joined(comments, index)
        example = parse_command(text, f"{path.relative_to(root)}:{index + 1}")
        if example is not None:
            yield example
        index = end
