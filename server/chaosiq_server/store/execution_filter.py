"""The filters of the executions list (API and console): outcome, experiment, tag,
date range and a search in experiment titles, as SQL conditions on ``executions``.

Every filter uses a column kept for it (``outcome``, ``experiment_id``,
``created_at``) or a small indexed table (``experiment_tags``, ``experiments``):
no journal is read to filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from .. import models as m
from ..errors import BadInput
from ..outcome import WORDS

MAX_TEXT = 200


@dataclass(frozen=True)
class ExecutionFilter:
    """What the list is narrowed to (``None``: not filtered on). ``since`` and ``until``
    are whole UTC days, both included, of the day the server received the execution."""

    outcome: str | None = None
    experiment_id: str | None = None
    tag: str | None = None
    since: date | None = None
    until: date | None = None
    q: str | None = None

    @classmethod
    def parse(
        cls,
        outcome: str | None = None,
        experiment: str | None = None,
        tag: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        q: str | None = None,
    ) -> ExecutionFilter:
        """The filter from query parameters (empty ones ignored); :class:`BadInput` (422)
        with one clear line for a value that makes no sense."""
        outcome = _text(outcome, "outcome")
        if outcome is not None and outcome not in WORDS:
            raise BadInput(f"outcome must be one of {', '.join(WORDS)}, not {outcome!r}")
        start, end = _day(since, "since"), _day(until, "until")  # since > until: nothing matches
        return cls(outcome, _text(experiment, "experiment"), _text(tag, "tag"), start, end, _text(q, "q"))

    @property
    def active(self) -> bool:
        return any(v is not None for v in self.params().values())

    def params(self) -> dict[str, str]:
        """The filter as query parameters (for links that keep it)."""
        values = {
            "outcome": self.outcome,
            "experiment": self.experiment_id,
            "tag": self.tag,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "q": self.q,
        }
        return {k: v for k, v in values.items() if v is not None}

    def where(self, team_id: str) -> list[Any]:
        """SQL conditions on ``executions`` for the team's executions that match.

        The experiment filters (id, tag, title) become one set of the team's
        experiments, and the executions are taken by ``experiment_id`` in it (an
        execution always belongs to its experiment's team): the query then reads
        the experiment indexes, so counting the matches does not visit every
        execution of the team.
        """
        x, e, tags = m.executions, m.experiments, m.experiment_tags
        of_experiments: list[Any] = []
        if self.experiment_id is not None:
            of_experiments.append(e.c.id == self.experiment_id)
        if self.tag is not None:
            tagged = select(tags.c.experiment_id).where(tags.c.team_id == team_id, tags.c.tag == self.tag)
            of_experiments.append(e.c.id.in_(tagged))
        if self.q is not None:
            of_experiments.append(e.c.title.icontains(self.q, autoescape=True))
        found: list[Any] = []
        if of_experiments:
            found.append(x.c.experiment_id.in_(select(e.c.id).where(e.c.team_id == team_id, *of_experiments)))
        else:
            found.append(x.c.team_id == team_id)
        if self.outcome is not None:
            found.append(x.c.outcome == self.outcome)
        # created_at is ISO 8601 UTC text: a day's bounds compare as text
        if self.since is not None:
            found.append(x.c.created_at >= self.since.isoformat())
        if self.until is not None and self.until < date.max:
            found.append(x.c.created_at < (self.until + timedelta(days=1)).isoformat())
        return found


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if "\x00" in value:
        raise BadInput(f"{name} must not contain NUL")
    if len(value) > MAX_TEXT:
        raise BadInput(f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def _day(value: str | date | None, name: str) -> date | None:
    if isinstance(value, date):
        return value
    text = _text(value, name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{name} must be a date as YYYY-MM-DD, not {text!r}") from None
