"""The layout docs/development.md describes is the code's: every package and module of app/
and geo/ has its line, and the tests keep the rules it states (unique file names, no test
module importing another)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from app.settings import PROJECT_DIR

DEVELOPMENT = PROJECT_DIR / "docs" / "development.md"
TESTS = PROJECT_DIR / "tests"


def layout_section() -> str:
    text = DEVELOPMENT.read_text(encoding="utf-8")
    start = text.index("## Layout")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def packages() -> list[Path]:
    """app/ and geo/ and every Python package under them."""
    return sorted(
        init.parent.relative_to(PROJECT_DIR)
        for root in ("app", "geo")
        for init in (PROJECT_DIR / root).rglob("__init__.py")
    )


def undocumented(section: str) -> list[str]:
    """What the layout section leaves out: a package is named by its path (`geo/ingest/`),
    a module by its path, or by its file name on its package's row."""
    rows = {
        m.group(1): line
        for line in section.splitlines()
        if (m := re.match(r"\| `([a-z_/]+/)` \|", line))
    }
    missing = []
    for package in packages():
        key = f"{package.as_posix()}/"
        row = rows.get(key)
        if row is None:
            missing.append(key)
        for module in sorted((PROJECT_DIR / package).glob("*.py")):
            if module.name == "__init__.py":
                continue
            path = f"{key}{module.name}"
            if f"`{path}`" not in section and (row is None or f"`{module.name}`" not in row):
                missing.append(path)
    return missing


def test_every_package_and_module_is_in_the_layout() -> None:
    missing = undocumented(layout_section())
    assert not missing, (
        "docs/development.md, section Layout, does not name these (a row `| `pkg/` | … |` "
        f"per package, each module by its file name on it): {', '.join(missing)}"
    )


def test_the_check_names_what_is_missing() -> None:
    section = layout_section().replace("`tile_generation.py`", "tile generation")
    section = section.replace("| `geo/land/` |", "| geo land |")
    missing = undocumented(section)
    assert "geo/db/tile_generation.py" in missing
    assert "geo/land/" in missing and "geo/land/zoning.py" in missing


def test_test_file_names_are_unique() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []


def test_no_test_module_imports_another() -> None:
    """What tests share lives in tests/helpers/ (and fixtures in tests/conftest.py)."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                last = name.split(".")[-1]
                if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                    offenders.append(f"{path.relative_to(PROJECT_DIR)}: {name}")
    assert offenders == []
