"""Small helpers to draw server-side SVG charts on a time axis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

NICE_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400]


def nice_step(span: float, target_ticks: int = 8) -> float:
    """A round tick interval giving about ``target_ticks`` ticks over ``span`` seconds."""
    for step in NICE_STEPS:
        if span / step <= target_ticks:
            return step
    return NICE_STEPS[-1]


def tick_label(offset: float) -> str:
    if offset >= 3600:
        return f"+{offset / 3600:g} h"
    if offset >= 120:
        return f"+{offset / 60:g} min"
    return f"+{offset:g} s"


@dataclass
class TimeAxis:
    """Maps datetimes in [start, end] onto x pixels in [x0, x1]."""

    start: datetime
    end: datetime
    x0: float
    x1: float

    @property
    def span(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.001)

    def x(self, when: datetime) -> float:
        offset = (when - self.start).total_seconds()
        offset = min(max(offset, 0.0), self.span)
        return round(self.x0 + (self.x1 - self.x0) * offset / self.span, 1)

    def ticks(self) -> list[tuple[float, str]]:
        step = nice_step(self.span)
        out = []
        n = 0
        while n * step <= self.span + 1e-9 and n < 200:
            offset = n * step
            x = round(self.x0 + (self.x1 - self.x0) * offset / self.span, 1)
            out.append((x, tick_label(offset)))
            n += 1
        return out


def attrs(**values: object) -> str:
    """Escaped XML attributes; ``class_`` becomes ``class``, ``_`` becomes ``-``."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = "class" if key == "class_" else key.replace("_", "-")
        parts.append(f'{name}="{escape(str(value))}"')
    return " ".join(parts)


def tag(name: str, content: str = "", **values: object) -> str:
    if content:
        return f"<{name} {attrs(**values)}>{content}</{name}>"
    return f"<{name} {attrs(**values)}/>"


def text(content: str, **values: object) -> str:
    return f"<text {attrs(**values)}>{escape(content)}</text>"


def title(content: str) -> str:
    return f"<title>{escape(content)}</title>"


def svg(width: float, height: float, body: list[str], label: str, class_: str) -> Markup:
    head = attrs(
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width:g} {height:g}",
        width=f"{width:g}",
        height=f"{height:g}",
        role="img",
        aria_label=label,
        class_=class_,
        font_family="system-ui, sans-serif",
        font_size="12",
    )
    return Markup(f"<svg {head}>" + "".join(body) + "</svg>")
