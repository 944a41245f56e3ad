"""The documentation keeps working: the site builds with ``mkdocs build --strict`` (a broken link, anchor
or included file fails it), and what it tells a reader to run or open still exists: every
``manage.py`` command line parses with that command's own options, every ``make`` target and benchmark
option exists, and every file of the repository it names is there."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = ROOT / ".venv" / "bin" / "mkdocs"
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md",
         *sorted((ROOT / "docs").rglob("*.md"))]
#: A file of the repository named in backticks: a path under one of its folders, with an extension.
REPO_PATH = re.compile(r"`((?:studyapp|traces|analysis|tracestudy|tests|bench|deploy|docs)/[\w./-]+\.\w+)`")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(MKDOCS), "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=config.parent, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_site_builds_strictly(tmp_path):
    built = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "researchers" / "quick-start" / "index.html").read_text().count("make demo")


def test_a_broken_link_fails_the_build(tmp_path):
    """The check above cannot pass by checking nothing."""
    for name in ("mkdocs.yml", "README.md", "CONTRIBUTING.md", "CHANGELOG.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "statistics.md"
    page.write_text(page.read_text() + "\nSee [the plan](researchers/no-such-page.md).\n")
    built = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode != 0 and "no-such-page.md" in built.stderr


def _shell_lines(text: str) -> list[str]:
    """Command lines: those of the fenced code blocks (continuations joined) and inline code spans."""
    lines, fenced, block = [], False, []
    for line in text.split("\n"):
        if line.startswith("```"):
            if fenced:
                lines += "\n".join(block).replace("\\\n", " ").split("\n")
            fenced, block = not fenced, []
        elif fenced:
            block.append(line)
    return lines + re.findall(r"`([^`\n]*manage\.py [^`\n]*)`", text)


def _commands(pattern: str) -> list[tuple[str, str]]:
    return [(page.relative_to(ROOT).as_posix(), line.strip()) for page in PAGES
            for line in _shell_lines(page.read_text()) if re.search(pattern, line)]


def _words(line: str, after: str) -> list[str]:
    """The words after ``after`` up to a comment or the next command, placeholders' brackets dropped."""
    words = []
    for word in shlex.split(line.split(after, 1)[1].replace("[", " ").replace("]", " "), comments=True):
        if word in ("&&", "||", "|", ";"):
            break
        words.append(word)
    return words


MANAGE = _commands(r"manage\.py \w")


def test_the_docs_show_management_commands():
    assert len(MANAGE) > 25 and any("stimuli_from_outputs" in line for _, line in MANAGE)


@pytest.mark.parametrize(("page", "line"), MANAGE)
def test_each_management_command_line_parses(page, line):
    name, *args = _words(line, "manage.py ")
    app = get_commands().get(name)
    assert app is not None, f"{page}: no management command {name!r} ({line})"
    if args:  # a command named in passing has no options to check
        command = load_command_class(app, name)
        command.create_parser("manage.py", name).parse_args(args)  # CommandError on an unknown option


@pytest.mark.parametrize(("page", "line"), _commands(r"^\s*make \w"))
def test_each_make_target_exists(page, line):
    targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert _words(line, "make ")[0] in targets, f"{page}: {line}"


@pytest.mark.parametrize(("page", "line"), _commands(r"bench/\w+\.py"))
def test_each_benchmark_and_its_options_exist(page, line):
    script = re.search(r"bench/\w+\.py", line).group(0)
    source = (ROOT / script).read_text()
    if "from participants import" in source:  # walk_cpu.py and burst.py take participants.py's options
        source += (ROOT / "bench" / "participants.py").read_text()
    options = [word.split("=")[0] for word in _words(line, script) if word.startswith("--")]
    assert [option for option in options if f'"{option}"' not in source] == [], f"{page}: {line}"


def test_every_file_the_docs_name_exists():
    named = {(page.relative_to(ROOT).as_posix(), path) for page in PAGES
             for path in REPO_PATH.findall(page.read_text()) if "<" not in path and "*" not in path}
    assert len(named) > 20
    assert sorted((page, path) for page, path in named if not (ROOT / path).exists()) == []
