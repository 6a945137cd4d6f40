"""What the code cites ships with it: no file cites a document the repository does not contain,
and every ``docs/….md`` a file names (or a document links to) exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache",
                ".pytest_cache", "communectl-data", "build", "dist"}
SUFFIXES = {".py", ".md", ".toml", ".js", ".sh", ".html", ".css", ".conf", ".service", ".cfg",
            ".txt", ".yml", ".yaml", ".ini"}
NAMES = {"Makefile", "Dockerfile"}

# The outside documents, spelt in pieces so that this file does not cite them itself.
OUTSIDE = ("SP" + "EC", "ST" + "YLE", "LIBRA" + "RIES")
OUTSIDE_CITATION = re.compile(r"\b(?:" + "|".join(OUTSIDE) + r")\b")
DOCS_PATH = re.compile(r"\bdocs/([A-Za-z0-9_./-]+?\.md)\b")
RELATIVE_LINK = re.compile(r"\]\(([A-Za-z0-9_-]+\.md)(?:#[^)]*)?\)")


def repository_files() -> list[Path]:
    found = []
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and (path.suffix in SUFFIXES or path.name in NAMES):
            found.append(path)
    return found


FILES = repository_files()


def citations(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if OUTSIDE_CITATION.search(line)]


def named_docs(text: str) -> set[str]:
    return set(DOCS_PATH.findall(text))


@pytest.mark.parametrize("sample", [
    f"(SOURCE in {OUTSIDE[0]}: HTTP API)", f"see {OUTSIDE[2]}.md, Storage",
    f"({OUTSIDE[1]}: Time is injected)", f"The {OUTSIDE[0]}'s example calendar",
])
def test_the_scanner_finds_an_outside_citation(sample: str) -> None:
    assert citations(sample) == [sample]


def test_the_scanner_lets_ordinary_words_through() -> None:
    assert citations("the Modbus serial line specification; a style sheet; libraries") == []


def test_the_scanner_sees_the_repository() -> None:
    names = {path.relative_to(REPO).as_posix() for path in FILES}
    assert {"README.md", "docs/architecture.md", "controller/runtime.py",
            "schedules/solar.py", "pyproject.toml"} <= names


def test_no_file_cites_a_document_outside_the_repository() -> None:
    found = {path.relative_to(REPO).as_posix(): citations(path.read_text(encoding="utf-8"))
             for path in FILES}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_every_document_a_file_names_exists() -> None:
    missing = set()
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        for name in named_docs(text):
            if not (REPO / "docs" / name).is_file():
                missing.add((path.relative_to(REPO).as_posix(), f"docs/{name}"))
        if path.parent == REPO / "docs":
            for name in RELATIVE_LINK.findall(text):
                if not (REPO / "docs" / name).is_file():
                    missing.add((path.relative_to(REPO).as_posix(), name))
    assert missing == set()


def test_the_readme_points_into_the_docs() -> None:
    named = named_docs((REPO / "README.md").read_text(encoding="utf-8"))
    assert {"architecture.md", "configuration.md", "api.md", "mqtt.md"} <= named
    assert {path.name for path in (REPO / "docs").glob("*.md")} <= named
