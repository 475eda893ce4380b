"""The repository stands alone: no citation of documents a reader of it does not have.

The design notes, the specification of the original client and the list of its
defects that this work started from are not part of the repository. Code,
comments and docs say what a reader needs instead of pointing at them
(``DESIGN.md``, "spec §4.3", defect ids such as "W14", ``shared/reference/…``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = {
    ".md",
    ".py",
    ".sh",
    ".toml",
    ".yaml",
    ".yml",
    ".json",
    ".html",
    ".txt",
    ".cfg",
    ".ini",
    ".js",
    ".css",
}
CITATIONS = [
    ("DESIGN.md", re.compile(r"DESIGN\.md")),
    ("a section of the spec", re.compile(r"\bspec(ification)?\b[^\n]{0,3}§", re.IGNORECASE)),
    ("a defect id", re.compile(r"(?<![\w-])W\d{1,3}\b")),
    ("the shared folder", re.compile(r"(?<![\w.-])shared/")),
    ("a reference file", re.compile(r"reference/[\w.-]+\.md|chaosiq-cloud-spec|measured-pitfalls")),
]
PUBLIC_SPECS = ("CloudEvents",)
"""A bare "§" is fine in a file that names the public specification it cites."""


def tracked_files() -> list[Path]:
    try:
        names = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        ).stdout.splitlines()
        files = [ROOT / name for name in names]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in ROOT.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts]
    this = Path(__file__).resolve()
    return [
        p for p in files if p.suffix in TEXT and p.is_file() and p.resolve() != this and p.name != "uv.lock"
    ]


def citations(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: kind: text`` for each line of ``path`` that cites an outside document."""
    text = path.read_text(encoding="utf-8", errors="replace")
    names_a_spec = any(spec in text for spec in PUBLIC_SPECS)
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"noqa:[\w, ]*", "", line)  # lint codes such as W291 are not defect ids
        kinds = [what for what, pattern in CITATIONS if pattern.search(line)]
        if not kinds and "§" in line and not names_a_spec:
            kinds = ["a bare section sign"]
        if kinds:
            found.append(f"{path.relative_to(root)}:{number}: {kinds[0]}: {line.strip()[:120]}")
    return found


def test_nothing_cites_documents_outside_the_repository() -> None:
    files = tracked_files()
    assert len(files) > 100  # the walk found the repository
    found = [hit for path in files for hit in citations(path)]
    assert found == [], "\n".join(found)


def test_the_check_finds_each_kind_of_citation(tmp_path: Path) -> None:
    """The patterns catch what they are for, and leave lint codes and public specs alone."""
    sample = tmp_path / "sample.md"
    sample.write_text(
        "see DESIGN.md\nas in spec §4.3\nthe original's bug (W14)\nin /work/shared/notes.md\n"
        "see reference/chaosiq-cloud-spec.md\n§5.3: a run\nx = 1  # noqa: W291\n"
    )
    kinds = [hit.split(": ")[1] for hit in citations(sample, tmp_path)]
    assert kinds == [
        "DESIGN.md",
        "a section of the spec",
        "a defect id",
        "the shared folder",
        "a reference file",
        "a bare section sign",
    ]
    public = tmp_path / "public.md"
    public.write_text("CloudEvents HTTP binding, §3.1\n")
    assert citations(public, tmp_path) == []


def test_the_console_colours_are_the_ones_docs_console_md_names() -> None:
    """docs/console.md names each timeline bar's and verification lane's colour: the ones drawn."""
    from chaosiq_server.console import timeline, vchart

    page = (ROOT / "docs" / "console.md").read_text()
    named = {"#2e9d5b": "green", "#e0a100": "amber", "#d0342c": "red", "#2f6fd6": "blue", "#8a8f98": "grey"}
    for outcome, label in timeline.OUTCOME_LABELS.items():
        word = named[timeline.COLOURS[outcome]]
        said = "still running" if outcome == "running" else label
        assert re.search(rf"\*\*{word}\*\*( \(pulsing\))? {said}", page), (outcome, word, said)
    for key, label, colour in vchart.LANES:
        assert f"**{label.lower()}** ({named[colour]})" in page, (key, named[colour])
