"""The execution timeline: activities as bars on a time axis, built from the
execution's CloudEvents (so it is live while the run goes on) and drawn as SVG."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from markupsafe import Markup

from . import svg
from .timefmt import parse_time, show_duration, show_time

PHASES = {
    "starting-method": ("method-finished", "method", "Method"),
    "starting-rollback": ("rollback-finished", "rollback", "Rollbacks"),
}
OUTCOME_LABELS = {
    "ok": "succeeded",
    "deviated": "tolerance not met",
    "failed": "failed",
    "running": "running",
    "interrupted": "did not finish",
}
# events after which an activity still open was cut: it did not finish
RUN_ENDS = ("experiment-interrupted", "experiment-signal-exit", "experiment-finished")
COLOURS = {
    "ok": "#2e9d5b",
    "deviated": "#e0a100",
    "failed": "#d0342c",
    "running": "#2f6fd6",
    "interrupted": "#8a8f98",
}
PHASE_COLOURS = {"hypothesis": "#e8f1fb", "method": "#fdf0e6", "rollback": "#f1ecfb", "pause": "#e5e7eb"}
MAX_BARS = 300


@dataclass
class Bar:
    name: str
    kind: str
    start: datetime
    end: datetime | None = None
    outcome: str = "running"
    phase: str = ""

    @property
    def duration(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end else None


@dataclass
class Phase:
    label: str
    kind: str
    start: datetime
    end: datetime | None = None


@dataclass
class Marker:
    when: datetime
    label: str
    kind: str  # "stop", "end", "event"


@dataclass
class Timeline:
    start: datetime | None = None
    end: datetime | None = None
    bars: list[Bar] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    truncated: bool = False

    @property
    def empty(self) -> bool:
        return self.start is None


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def _activity(event: dict[str, Any]) -> dict[str, Any]:
    data = _data(event)
    context = data.get("context")
    if isinstance(context, dict):
        return context
    state = data.get("state")
    if isinstance(state, dict) and isinstance(state.get("activity"), dict):
        return state["activity"]
    return {}


def activity_outcome(state: Any) -> str:
    """The bar colour of an ``activity-finished`` state (its run record).

    chaostoolkit-lib writes ``status`` only when the activity returned or raised
    ``ActivityFailed``; a run cut by a stop (SIGUSR1, SIGTERM, Ctrl-C) is reported
    finished with its end time and no status: it did not finish.
    """
    if not isinstance(state, dict):
        return "interrupted"
    status = state.get("status")
    if status == "failed":
        return "failed"
    if status is None:
        return "interrupted"
    if state.get("tolerance_met") is False:
        return "deviated"
    return "ok" if status == "succeeded" else "failed"


def _safeguard_label(event: dict[str, Any]) -> str:
    context = _data(event).get("context")
    source = context.get("source") if isinstance(context, dict) else None
    return f"safeguard stop: {source}" if source else "safeguard-triggered"


def build_timeline(
    events: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    running: bool,
    status: str | None = None,
    now: datetime | None = None,
) -> Timeline:
    """Pair starting/finished events into bars and phases; mark stops and the end."""
    now = now or datetime.now(timezone.utc)
    tl = Timeline()
    open_bars: dict[str, deque[Bar]] = defaultdict(deque)
    open_phases: dict[str, Phase] = {}
    hypotheses = 0
    current_phase = ""
    times: list[datetime] = []
    ends: list[datetime] = []

    for event in events:
        when = parse_time(event.get("time"))
        if when is None:
            continue
        times.append(when)
        etype = str(event.get("type", ""))
        if etype == "starting-hypothesis":
            hypotheses += 1
            label = "Steady state before" if hypotheses == 1 else "Steady state after"
            open_phases["hypothesis"] = Phase(label, "hypothesis", when)
            tl.phases.append(open_phases["hypothesis"])
            current_phase = label
        elif etype == "hypothesis-finished" and "hypothesis" in open_phases:
            open_phases.pop("hypothesis").end = when
            current_phase = ""
        elif etype in PHASES:
            _, kind, label = PHASES[etype]
            open_phases[kind] = Phase(label, kind, when)
            tl.phases.append(open_phases[kind])
            current_phase = label
        elif etype in ("method-finished", "rollback-finished"):
            kind = "method" if etype == "method-finished" else "rollback"
            if kind in open_phases:
                open_phases.pop(kind).end = when
            current_phase = ""
        elif etype == "starting-activity":
            act = _activity(event)
            name = str(act.get("name") or "(unnamed activity)")
            if len(tl.bars) >= MAX_BARS:
                tl.truncated = True
                continue
            bar = Bar(name, str(act.get("type") or "activity"), when, phase=current_phase)
            open_bars[name].append(bar)
            tl.bars.append(bar)
        elif etype == "activity-finished":
            act = _activity(event)
            name = str(act.get("name") or "(unnamed activity)")
            state = _data(event).get("state")
            if open_bars[name]:
                bar = open_bars[name].popleft()
            else:
                duration = state.get("duration") if isinstance(state, dict) else None
                began = (
                    when - timedelta(seconds=float(duration)) if isinstance(duration, (int, float)) else when
                )
                bar = Bar(name, str(act.get("type") or "activity"), began, phase=current_phase)
                if len(tl.bars) >= MAX_BARS:
                    tl.truncated = True
                    continue
                tl.bars.append(bar)
            bar.end = when
            bar.outcome = activity_outcome(state)
        elif etype == "experiment-finished":
            ends.append(when)
            state = _data(event).get("state")
            final = state.get("status") if isinstance(state, dict) else None
            tl.markers.append(Marker(when, f"finished: {final or status or 'unknown'}", "end"))
        elif etype == "safeguard-triggered":
            tl.markers.append(Marker(when, _safeguard_label(event), "stop"))
        elif etype == "run-paused":
            context = _data(event).get("context")
            by = context.get("source") if isinstance(context, dict) else None
            open_phases["pause"] = Phase(f"Paused by {by}" if by else "Paused", "pause", when)
            tl.phases.append(open_phases["pause"])
        elif etype == "run-resumed" and "pause" in open_phases:
            open_phases.pop("pause").end = when
        elif any(word in etype for word in ("interrupt", "safeguard", "stop", "signal")):
            if etype in RUN_ENDS:
                ends.append(when)
            tl.markers.append(Marker(when, etype, "stop"))

    for policy in policies:
        when = parse_time(policy.get("created_at"))
        if when is None or policy.get("allowed", True):
            continue
        who = policy.get("created_by") or "someone"
        tl.markers.append(Marker(when, f"stop requested: {policy.get('name')} (by {who})", "stop"))
        times.append(when)

    if not times:
        return tl
    tl.start = min(times)
    tl.end = now if running else max(times)
    if tl.end <= tl.start:
        tl.end = tl.start + timedelta(seconds=1)
    for bar in tl.bars:
        if bar.end is None:
            # open when the run was stopped or ended: cut there; else still going (or cut
            # at an end that was never published)
            cut = min((t for t in ends if t >= bar.start), default=None)
            if cut is not None or not running:
                bar.end = cut or tl.end
                bar.outcome = "interrupted"
            else:
                bar.outcome = "running"
    for phase in tl.phases:
        if phase.end is None and not running:
            phase.end = tl.end
    return tl


# ---------------------------------------------------------------- rendering
WIDTH = 960
LABEL_W = 230
TOP = 40
ROW_H = 22
LINE_H = 14
BAR_H = 14


def render_timeline(tl: Timeline) -> Markup:
    """The timeline as an inline SVG (no script, no external resource).

    Marker labels (stop requests, safeguard events, the end) get one line each
    above the plot, so that markers close in time stay readable.
    """
    if tl.empty or tl.start is None or tl.end is None:
        return Markup('<p class="muted">No events yet.</p>')
    markers = sorted(tl.markers, key=lambda mk: mk.when)
    top = TOP + LINE_H * len(markers)
    rows = max(len(tl.bars), 1)
    bottom = top + rows * ROW_H
    height = bottom + 24
    axis = svg.TimeAxis(tl.start, tl.end, LABEL_W, WIDTH - 20)
    body: list[str] = [svg.text("start " + show_time(tl.start), x=4, y=14, fill="#6b7280", font_size="11")]
    for phase in tl.phases:
        x0 = axis.x(phase.start)
        x1 = axis.x(phase.end or tl.end)
        body.append(
            svg.tag(
                "rect",
                svg.title(f"{phase.label}: {show_time(phase.start)}"),
                x=x0,
                y=top - 16,
                width=max(x1 - x0, 1),
                height=bottom - top + 16,
                fill=PHASE_COLOURS.get(phase.kind, "#f3f4f6"),
                class_=f"phase phase-{phase.kind}",
            )
        )
        if x1 - x0 > 40:
            body.append(svg.text(phase.label, x=x0 + 3, y=top - 5, fill="#4b5563", font_size="11"))
    for x, label in axis.ticks():
        body.append(svg.tag("line", x1=x, x2=x, y1=top, y2=bottom, stroke="#e5e7eb"))
        body.append(svg.text(label, x=x, y=bottom + 16, fill="#6b7280", text_anchor="middle", font_size="11"))
    for i, bar in enumerate(tl.bars):
        y = top + i * ROW_H
        x0 = axis.x(bar.start)
        x1 = axis.x(bar.end or tl.end)
        if bar.outcome == "running":
            duration = "still running"
        elif bar.outcome == "interrupted":
            duration = f"cut after {show_duration(bar.duration)}"
        else:
            duration = show_duration(bar.duration)
        tip = f"{bar.name} ({bar.kind}) — {OUTCOME_LABELS[bar.outcome]}, {duration}"
        label = bar.name if len(bar.name) <= 32 else bar.name[:31] + "…"
        body.append(
            svg.tag(
                "g",
                svg.title(tip)
                + svg.text(label, x=LABEL_W - 8, y=y + 15, text_anchor="end", fill="#111827")
                + svg.tag(
                    "rect",
                    x=x0,
                    y=y + 4,
                    width=max(x1 - x0, 3),
                    height=BAR_H,
                    rx=3,
                    fill=COLOURS[bar.outcome],
                    class_=f"bar bar-{bar.outcome}",
                ),
                class_="activity",
                data_outcome=bar.outcome,
                data_name=bar.name,
            )
        )
    for k, marker in enumerate(markers):
        x = axis.x(marker.when)
        y = TOP + LINE_H * k - 6
        colour = "#d0342c" if marker.kind == "stop" else "#111827"
        right = x > LABEL_W + (WIDTH - LABEL_W) * 0.55
        body.append(
            svg.tag(
                "g",
                svg.title(f"{marker.label} at {show_time(marker.when)}")
                + svg.tag(
                    "line",
                    x1=x,
                    x2=x,
                    y1=y + 3,
                    y2=bottom,
                    stroke=colour,
                    stroke_width=2,
                    stroke_dasharray="4 3" if marker.kind == "stop" else None,
                )
                + svg.text(
                    ("■ " if marker.kind == "stop" else "") + marker.label,
                    x=x - 4 if right else x + 4,
                    y=y,
                    fill=colour,
                    font_size="11",
                    text_anchor="end" if right else "start",
                ),
                class_=f"marker marker-{marker.kind}",
            )
        )
    return svg.svg(WIDTH, height, body, "Execution timeline", "timeline")
