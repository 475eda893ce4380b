"""The verification-run chart: steady-state samples over time (met, deviated,
not run) with the warm-up, conditions and cool-down phases shaded, as SVG."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from markupsafe import Markup

from . import svg
from .timefmt import parse_time, show_time
from .timeline import COLOURS

# the colours of the outcome words everywhere: a deviated sample is amber like a deviated run
LANES = [
    ("met", "Met", COLOURS["ok"]),
    ("deviated", "Deviated", COLOURS["deviated"]),
    ("not-run", "Not run", COLOURS["interrupted"]),
]
PHASE_STYLE = {
    "warm-up": ("Warm-up", "#fff4d6"),
    "conditions": ("Conditions", "#fde2e1"),
    "cool-down": ("Cool-down", "#e1effd"),
}


@dataclass
class Sample:
    when: datetime
    iteration: int | None
    outcome: str  # met / deviated / not-run


@dataclass
class Span:
    kind: str
    start: datetime
    end: datetime | None


@dataclass
class Chart:
    samples: list[Sample] = field(default_factory=list)
    phases: list[Span] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.samples if s.outcome == outcome)


def sample_outcome(state: Any) -> str:
    """A journal measurement: ``steady_state_met`` False → deviated, True → met, else not run."""
    met = state.get("steady_state_met") if isinstance(state, dict) else None
    if met is True:
        return "met"
    if met is False:
        return "deviated"
    return "not-run"


def _phase_of(category: str) -> tuple[str, str] | None:
    """(phase, edge) for a run-event category, edge in started/completed."""
    name = category.lower().removeprefix("verification-")
    edge = "started" if name.endswith("-started") else "completed" if name.endswith("-completed") else ""
    if not edge:
        return None
    if "warm" in name:
        return "warm-up", edge
    if "cool" in name:
        return "cool-down", edge
    if name.startswith("condition"):
        return "conditions", edge
    return None


def _durations(run: dict[str, Any]) -> dict[str, float]:
    journal = run.get("journal")
    exp = journal.get("experiment") if isinstance(journal, dict) else None
    for ext in (exp or {}).get("extensions") or []:
        if (
            isinstance(ext, dict)
            and ext.get("name") == "chaosiq"
            and isinstance(ext.get("verification"), dict)
        ):
            ver = ext["verification"]
            return {
                k: float(v) for k, v in ver.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
    return {}


def build_chart(run: dict[str, Any], events: list[dict[str, Any]], now: datetime | None = None) -> Chart:
    now = now or datetime.now(timezone.utc)
    chart = Chart()
    opened: dict[str, Span] = {}
    times: list[datetime] = []
    sampling_started: datetime | None = None
    sampling_done: datetime | None = None
    durations = _durations(run)
    for event in events:
        when = parse_time(event.get("created_at"))
        payload = event.get("payload")
        if isinstance(payload, dict) and parse_time(payload.get("time")):
            when = parse_time(payload.get("time"))
        if when is None:
            continue
        times.append(when)
        category = str(event.get("category", ""))
        if category == "verification-sample":
            p = payload if isinstance(payload, dict) else {}
            iteration = p.get("iteration")
            chart.samples.append(
                Sample(
                    when, iteration if isinstance(iteration, int) else None, sample_outcome(p.get("state"))
                )
            )
            continue
        if category == "verification-sample-started":
            sampling_started = when
        elif category == "verification-sampling-completed":
            sampling_done = when
        found = _phase_of(category)
        if found is None:
            continue
        kind, edge = found
        if edge == "started":
            opened[kind] = Span(kind, when, None)
            chart.phases.append(opened[kind])
        elif kind in opened:
            span = opened.pop(kind)
            # `chaos verify` holds the conditions `duration-of-conditions` after the method ends.
            extra = durations.get("duration-of-conditions", 0.0) if kind == "conditions" else 0.0
            span.end = when + timedelta(seconds=extra)
            if kind == "conditions" and sampling_done is not None:
                span.end = max(span.end, sampling_done)

    starts = {p.kind for p in chart.phases}
    conditions = next((p for p in chart.phases if p.kind == "conditions"), None)
    if "warm-up" not in starts and conditions is not None and durations.get("warm-up-duration", 0) > 0:
        begin = sampling_started or conditions.start - timedelta(seconds=durations["warm-up-duration"])
        chart.phases.insert(0, Span("warm-up", begin, conditions.start))

    if not times:
        created = parse_time(run.get("created_at"))
        if created is None:
            return chart
        times.append(created)
    finished = parse_time(run.get("finished_at"))
    chart.start = min(times)
    chart.end = finished or (now if run.get("state") == "running" else max(times))
    chart.end = max(chart.end, max(times))
    if chart.end <= chart.start:
        chart.end = chart.start + timedelta(seconds=1)
    for span in chart.phases:
        if span.end is None:
            span.end = chart.end
        if conditions is span and sampling_done is not None and span.end < sampling_done:
            span.end = sampling_done
    return chart


WIDTH = 960
LEFT = 80
TOP = 28
LANE_H = 34


def render_chart(chart: Chart) -> Markup:
    if chart.start is None or chart.end is None:
        return Markup('<p class="muted">No samples yet.</p>')
    bottom = TOP + LANE_H * len(LANES)
    axis = svg.TimeAxis(chart.start, chart.end, LEFT, WIDTH - 20)
    body: list[str] = []
    for span in chart.phases:
        label, colour = PHASE_STYLE[span.kind]
        x0, x1 = axis.x(span.start), axis.x(span.end or chart.end)
        body.append(
            svg.tag(
                "rect",
                svg.title(f"{label}: {show_time(span.start)} → {show_time(span.end)}"),
                x=x0,
                y=TOP,
                width=max(x1 - x0, 1),
                height=bottom - TOP,
                fill=colour,
                class_=f"phase phase-{span.kind}",
            )
        )
        body.append(svg.text(label, x=x0 + 3, y=TOP - 6, fill="#4b5563", font_size="11"))
    for i, (key, label, colour) in enumerate(LANES):
        y = TOP + i * LANE_H + LANE_H / 2
        body.append(svg.tag("line", x1=LEFT, x2=WIDTH - 20, y1=y, y2=y, stroke="#e5e7eb"))
        body.append(
            svg.text(f"{label} ({chart.count(key)})", x=LEFT - 6, y=y + 4, text_anchor="end", fill=colour)
        )
    for x, label in axis.ticks():
        body.append(svg.tag("line", x1=x, x2=x, y1=bottom, y2=bottom + 4, stroke="#9ca3af"))
        body.append(svg.text(label, x=x, y=bottom + 16, fill="#6b7280", text_anchor="middle", font_size="11"))
    lane_y = {key: TOP + i * LANE_H + LANE_H / 2 for i, (key, _, _) in enumerate(LANES)}
    colours = {key: colour for key, _, colour in LANES}
    for sample in chart.samples:
        it = f"sample {sample.iteration}" if sample.iteration is not None else "sample"
        body.append(
            svg.tag(
                "circle",
                svg.title(f"{it}: {sample.outcome} at {show_time(sample.when)}"),
                cx=axis.x(sample.when),
                cy=lane_y[sample.outcome],
                r=6,
                fill=colours[sample.outcome],
                class_=f"sample sample-{sample.outcome}",
            )
        )
    return svg.svg(WIDTH, bottom + 26, body, "Verification samples over time", "vchart")
