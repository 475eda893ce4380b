"""Every hookspec is documented, and docs/hooks.md is what the generator prints."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from chaosiq_core import docs, hookspecs

ROOT = Path(__file__).resolve().parents[1]


def test_every_spec_has_a_docstring_that_documents_its_arguments() -> None:
    specs = docs.specs()
    assert len(specs) >= 25
    for name, fn in specs.items():
        doc = inspect.getdoc(fn)
        assert doc, f"{name} has no docstring"
        for arg in inspect.signature(fn).parameters:
            assert f":param {arg}:" in doc, f"{name} does not document its argument {arg}"


def test_every_spec_is_in_docs_hooks_md() -> None:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    for name in docs.specs():
        assert f"### `{name}`" in text, f"{name} is missing from docs/hooks.md"


def test_docs_hooks_md_is_up_to_date() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "chaosiq_core.docs"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    committed = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert generated == committed, "docs/hooks.md is stale: run `python -m chaosiq_core.docs > docs/hooks.md`"


def test_a_spec_without_docstring_fails_the_generator(monkeypatch) -> None:
    def chaosiq_undocumented(run) -> None:
        pass

    chaosiq_undocumented.chaosiq_spec = {}  # what @hookspec sets
    monkeypatch.setattr(hookspecs, "chaosiq_undocumented", chaosiq_undocumented, raising=False)
    assert "chaosiq_undocumented" in docs.specs()
    try:
        docs.render()
    except ValueError as exc:
        assert "chaosiq_undocumented has no docstring" in str(exc)
    else:
        raise AssertionError("render() accepted a spec without docstring")


def test_every_section_name_is_a_real_spec() -> None:
    names = set(docs.specs())
    for _, listed in docs.SECTIONS:
        assert set(listed) <= names
