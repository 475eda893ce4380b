"""Request and response bodies (they also make the OpenAPI document).

Request bodies are validated strictly: a string is a string, a boolean is
``true``/``false`` (not ``0``), a number is not a boolean. Strings stored in a
column of their own (ids, names, statuses, reasons) may not hold NUL
(``\\u0000``), which PostgreSQL text cannot store; JSON documents (journals,
experiments, event data, payloads) keep it, escaped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .store.pauses import DEFAULT_TIMEOUT as DEFAULT_PAUSE_TIMEOUT
from .store.pauses import MAX_TIMEOUT as MAX_PAUSE_TIMEOUT
from .windows import Window

Json = dict[str, Any]
Plain = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
"""A string without NUL (one stored in a column of its own)."""
Timestamp = Annotated[
    str,
    StringConstraints(max_length=64),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 64}),
]
"""An RFC 3339 timestamp (checked when the event is stored: 422 otherwise)."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


# --- requests ---------------------------------------------------------------


class ExperimentIn(_Open):
    experiment: Json = Field(description="The Chaos Toolkit experiment document.")


class JournalIn(_Open):
    journal: Json = Field(description="The Chaos Toolkit journal.")


RunId = Annotated[
    Plain | None,
    Field(
        min_length=1,
        max_length=200,
        description="The client's id of the run (optional). A run id the team has seen already "
        "gets its existing execution back (200) instead of a new one.",
    ),
]


class ExecutionIn(JournalIn):
    run_id: RunId = None


class ExecutionWithExperimentIn(_Open):
    experiment: Json = Field(description="The Chaos Toolkit experiment document (stored or matched).")
    journal: Json = Field(description="The initial journal of the execution.")
    run_id: RunId = None


class ExecutionCreatedOut(BaseModel):
    id: str = Field(description="The execution's id.")
    experiment_id: str = Field(description="The id of the experiment it belongs to (new or matched).")


class CloudEventIn(_Open):
    """A CloudEvent in structured content mode. ``data`` may be a JSON string."""

    specversion: Literal["1.0", "0.3"]
    id: Plain = Field(min_length=1, max_length=200)
    source: Plain = Field(min_length=1, max_length=500)
    type: Plain = Field(min_length=1, max_length=200)
    datacontenttype: str | None = None
    time: Timestamp | None = None
    data: Any = None
    data_base64: str | None = None


class PolicyIn(_Strict):
    name: Plain = Field(min_length=1, max_length=200)
    allowed: bool = False
    reason: Plain | None = None


class StopIn(_Strict):
    reason: Plain | None = None


WINDOW_FIELDS = ("start_day", "start_time", "end_day", "end_time", "time_zone")
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
Day = Annotated[int, Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")]


class TeamPolicyIn(BaseModel):
    """A team safeguard policy. ``deny``: every run in scope is denied now. ``window``:
    runs are denied while the weekly window is open (local time in ``time_zone``, an IANA
    name; it may span days, midnight and the week's end). ``concurrency``: a running
    execution is denied when it is not among the ``max_runs`` oldest running ones in scope.
    ``tag``: only experiments with this tag (none: every experiment of the team)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: Plain = Field(min_length=1, max_length=200)
    kind: Literal["deny", "window", "concurrency"]
    tag: Plain | None = Field(default=None, min_length=1, max_length=200)
    reason: Plain | None = Field(default=None, max_length=500)
    start_day: Day | None = None
    start_time: Annotated[str, StringConstraints(pattern=HHMM)] | None = None
    end_day: Day | None = None
    end_time: Annotated[str, StringConstraints(pattern=HHMM)] | None = None
    time_zone: Plain | None = Field(default=None, min_length=1, max_length=64, examples=["Europe/Paris"])
    max_runs: int | None = Field(default=None, ge=1, le=10000)

    @field_validator("name", "tag")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> TeamPolicyIn:
        window = {f: getattr(self, f) for f in WINDOW_FIELDS}
        if self.kind == "window":
            missing = [f for f, v in window.items() if v is None]
            if missing:
                raise ValueError(f"a window needs {', '.join(missing)}")
            Window(**window)  # the time zone exists, start differs from end
        elif any(v is not None for v in window.values()):
            raise ValueError(f"only a window has {', '.join(WINDOW_FIELDS)}")
        if self.kind == "concurrency" and self.max_runs is None:
            raise ValueError("a concurrency limit needs max_runs (1 or more)")
        if self.kind != "concurrency" and self.max_runs is not None:
            raise ValueError("only a concurrency limit has max_runs")
        return self


class PauseIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    reason: Plain | None = Field(default=None, max_length=500)
    timeout: float | None = Field(
        default=None,
        ge=1,
        le=MAX_PAUSE_TIMEOUT,
        allow_inf_nan=False,
        description=f"Seconds the run is held before it is stopped (default {DEFAULT_PAUSE_TIMEOUT:g}).",
    )


class VerificationRunIn(_Open):
    journal: Json | None = None
    status: Plain | None = Field(default=None, max_length=64)
    experiment_id: Plain | None = Field(default=None, max_length=64)
    execution_id: Plain | None = Field(default=None, max_length=64)


class VerificationRunEventIn(_Open):
    category: Plain = Field(min_length=1, max_length=200)
    payload: Any = None


class VerificationResults(_Open):
    successful_samples: int | None = None
    deviated_samples: int | None = None
    not_run_samples: int | None = None
    total_number_of_samples: int | None = None
    total_duration: float | None = None


class VerificationRunFinishedIn(_Open):
    journal: Json | None = None
    status: Plain | None = Field(default=None, max_length=64)
    results: VerificationResults | None = None
    experiment_id: Plain | None = Field(
        default=None, max_length=64, description="Filled in if unknown at start."
    )
    execution_id: Plain | None = Field(
        default=None, max_length=64, description="Filled in if unknown at start."
    )


# --- responses --------------------------------------------------------------

OutcomeWord = Annotated[
    str | None,
    Field(
        description="How the run went, derived from its journal by the server (``status`` stays as "
        "the journal says): running, passed, failed, deviated, interrupted, aborted or unknown."
    ),
]
OutcomeReasons = Annotated[
    list[str], Field(description="The findings the outcome comes from, first the main one.")
]


class IdOut(BaseModel):
    id: str


class Health(BaseModel):
    status: str
    detail: str | None = None


class Capabilities(BaseModel):
    capabilities: list[str]
    version: str


class Organization(BaseModel):
    id: str
    name: str


class Team(BaseModel):
    id: str
    name: str
    org_id: str


class ExperimentOut(BaseModel):
    id: str
    team_id: str
    title: str | None
    experiment: Json
    created_at: str
    updated_at: str


class ExperimentPage(BaseModel):
    items: list[ExperimentOut]
    next_cursor: str | None
    total: int


class ExecutionOut(BaseModel):
    id: str
    experiment_id: str
    status: str | None
    outcome: OutcomeWord = None
    outcome_reasons: OutcomeReasons = []
    journal: Json
    created_at: str
    updated_at: str
    events_count: int


class ExecutionSummary(BaseModel):
    id: str
    experiment_id: str
    status: str | None
    outcome: OutcomeWord = None
    outcome_reasons: OutcomeReasons = []
    created_at: str
    updated_at: str


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None
    total: int


class EventAck(BaseModel):
    id: str
    stored: bool


class BatchAck(BaseModel):
    received: int
    stored: int


class EventOut(BaseModel):
    id: str
    type: str
    source: str
    time: str | None
    data: Any = None


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None
    total: int


class PolicyOut(BaseModel):
    id: str
    name: str
    allowed: bool
    reason: str | None
    created_by: str | None
    created_at: str
    kind: str | None = Field(default=None, description="A team policy's kind (deny, window, concurrency).")
    scope: str | None = Field(default=None, description="``team`` for a team policy.")
    pause: bool | None = Field(default=None, description="``true``: the run is held until resumed.")
    timeout: float | None = Field(default=None, description="A pause's longest hold, in seconds.")


class TeamPolicyOut(BaseModel):
    id: str
    name: str
    kind: str
    tag: str | None
    reason: str | None
    start_day: int | None
    start_time: str | None
    end_day: int | None
    end_time: str | None
    time_zone: str | None
    max_runs: int | None
    description: str
    created_by: str | None
    created_at: str
    updated_by: str | None
    updated_at: str


class TeamPoliciesOut(BaseModel):
    items: list[TeamPolicyOut]


class PauseOut(BaseModel):
    id: str
    reason: str | None
    timeout: float
    created_by: str | None
    created_at: str
    resumed_by: str | None
    resumed_at: str | None


class Policies(BaseModel):
    allowed: bool
    policies: list[PolicyOut]


class VerificationOut(BaseModel):
    id: str
    org_id: str
    team_id: str
    created_at: str
    runs_count: int


class VerificationPage(BaseModel):
    items: list[VerificationOut]
    next_cursor: str | None
    total: int


class VerificationRunOut(BaseModel):
    id: str
    org_id: str
    team_id: str
    verification_id: str
    experiment_id: str | None
    execution_id: str | None
    state: str
    status: str | None
    outcome: OutcomeWord = None
    outcome_reasons: OutcomeReasons = []
    journal: Json | None
    results: Json | None = None
    created_at: str
    updated_at: str
    finished_at: str | None = None


class VerificationRunPage(BaseModel):
    items: list[VerificationRunOut]
    next_cursor: str | None
    total: int


class VerificationRunEventOut(BaseModel):
    id: str
    run_id: str
    category: str
    payload: Any = None
    created_at: str


class VerificationRunEventPage(BaseModel):
    items: list[VerificationRunEventOut]
    next_cursor: str | None
    total: int


# --- history and trends -----------------------------------------------------


class ExecutionMark(BaseModel):
    id: str
    outcome: OutcomeWord = None
    outcome_reasons: OutcomeReasons = []
    created_at: str = Field(description="When the server received the execution (UTC).")
    start: str = Field(description="The journal's start (else created_at).")
    duration: float | None = Field(description="The journal's duration in seconds (none while running).")


class WindowStats(BaseModel):
    days: int = Field(description="The window: executions received in the last `days` days.")
    since: str = Field(description="Its start (UTC).")
    total: int
    finished: int = Field(description="Executions of the window that are not running.")
    by_outcome: dict[str, int] = Field(description="How many of each outcome word.")
    pass_rate: float | None = Field(description="passed / finished; null when none finished.")
    median_duration: float | None = Field(
        description="Median duration (seconds) of the finished executions that report one."
    )


class ExperimentHistoryOut(BaseModel):
    experiment_id: str
    title: str | None
    executions_count: int = Field(description="All the experiment's executions.")
    executions: list[ExecutionMark] = Field(description="The newest 100, oldest first.")
    last_30_days: WindowStats
    last_deviation: ExecutionMark | None = Field(description="The newest deviated execution.")


class RunSamples(BaseModel):
    id: str
    state: str
    created_at: str
    finished_at: str | None
    deviated_samples: int | None
    successful_samples: int | None
    not_run_samples: int | None
    total_number_of_samples: int | None


class VerificationTrendOut(BaseModel):
    verification_id: str
    runs_count: int
    runs: list[RunSamples] = Field(description="The newest runs (up to `limit`), oldest first.")


class AuditEntryOut(BaseModel):
    id: str
    at: str
    team_id: str
    token_id: str | None = Field(description="The token that acted; null for the admin CLI.")
    token_name: str
    action: str = Field(
        description="execution.stop, token.create, token.revoke, "
        "policy.create, policy.update or policy.delete"
    )
    target_id: str | None = Field(description="The execution, token or policy acted on.")
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
    total: int
