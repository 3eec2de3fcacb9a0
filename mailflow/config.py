"""Configuration: defaults < TOML file < ``MAILFLOW_<SECTION>__<KEY>`` < flags.

The TOML file is chosen at run time (``--config``, ``MAILFLOW_CONFIG``, then
``$XDG_CONFIG_HOME/mailflow/config.toml``) and wired in through
``settings_customise_sources``.  Validation problems become one
:class:`~mailflow.errors.ConfigError` line each, naming the key path.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from datetime import time as dtime
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mailflow.errors import ConfigError
from mailflow.steps import DEFAULT_STEPS, Mode, StepRegistry, StepSpec

Port = Annotated[int, Field(ge=1, le=65535)]
Security = Literal["tls", "starttls", "none"]
STEPS: tuple[str, ...] = DEFAULT_STEPS.names  # the playbook's steps, in order
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}

_DURATION = re.compile(r"^\s*(\d+)\s*(mo|m|h|d|w|s)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}


def parse_duration(text: str) -> timedelta:
    """``"3h"``, ``"1d"``, ``"2w"``, ``"4mo"`` (a month counts 30 days), ``"90s"``, ``"15m"``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f'expected a duration like "3h", "1d", "2w" or "4mo", got "{text}"')
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


_KEEP = re.compile(r"^\s*(\d+)\s*(d|w|mo|y)\s*$")
_KEEP_DAYS = {"d": 1, "w": 7, "mo": 30, "y": 365}


def parse_keep(text: str) -> timedelta | None:
    """``[owner] keep_files``: ``""`` is forever (None); ``"90d"``, ``"12w"``, ``"18mo"``, ``"2y"``.

    Days at least (a month counts 30 days, a year 365): ``"18m"``, which elsewhere means
    minutes, is refused here rather than deleting every file 18 minutes after it came.
    """
    if not text.strip():
        return None
    match = _KEEP.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            'expected "" (keep forever) or a time in days, weeks, months or years like "90d", '
            f'"18mo" or "2y", got "{text}"'
        )
    return timedelta(days=int(match.group(1)) * _KEEP_DAYS[match.group(2)])


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, Field(pattern=r"^\s*\d+\s*(mo|m|h|d|w|s)\s*$")]

_config_path: ContextVar[Path | None] = ContextVar("mailflow_config_path", default=None)


class Section(BaseModel):
    """A config table: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class OwnerSettings(Section):
    name: str = "mailflow owner"
    addresses: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    story: str = ""
    availability: str = "Mon-Fri 09:00-17:00"
    #: how long files contacts sent (résumés, work samples) are kept: "" forever, else e.g. "90d", "18mo", "2y"
    keep_files: str = ""

    @field_validator("keep_files")
    @classmethod
    def _keep(cls, value: str) -> str:
        parse_keep(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f'expected an IANA time zone like "Europe/Berlin", got "{value}"') from exc
        return value

    @field_validator("addresses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f'expected e-mail addresses, got "{address}"')
        return [a.strip().lower() for a in value]

    @field_validator("availability")
    @classmethod
    def _availability(cls, value: str) -> str:
        parse_window(value)
        return value


class Credentials(Section):
    """How to log in: one of password, password_command, oauth2_token_command."""

    username: str = ""
    password: SecretStr | None = None
    password_command: str | None = None
    oauth2_token_command: str | None = None


class ServerSettings(Credentials):
    host: str = ""
    port: Port | None = None
    security: Security = "tls"
    ca_file: Path | None = None
    tls_verify: bool = True
    timeout: float = Field(default=30.0, gt=0)


class ImapAccount(ServerSettings):
    folder: str = "INBOX"


class MailboxSettings(ImapAccount):
    kind: Literal["imap", "maildir"] = "maildir"
    address: str = ""
    idle: bool = True
    poll_interval: Annotated[int, Field(ge=5, le=86400)] = 60
    path: Path | None = None
    processed_keyword: str = ""
    move_processed_to: str = ""


class DraftsSettings(ImapAccount):
    folder: str = ""


class SmtpSettings(ServerSettings):
    from_address: str = ""
    sent_copy: Literal["mailbox", "drafts", "none", "auto"] = "auto"


class OutboxSettings(Section):
    folder: Path | None = None


class DatabaseSettings(Section):
    url: str = ""


class DataSettings(Section):
    folder: Path | None = None
    max_attachment_bytes: Annotated[int, Field(ge=0)] = 10 * 1024 * 1024


class TemplateSettings(Section):
    folder: Path | None = None


class SendingSettings(Section):
    window: str = "Mon-Fri 08:00-18:00"
    per_hour: Annotated[int, Field(ge=1)] = 60
    per_day: Annotated[int, Field(ge=1)] = 400
    max_lateness: Duration = "2d"
    message_id_domain: str = ""

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value


class TrustSettings(Section):
    authserv_id: str = ""
    request_threshold: Annotated[float, Field(ge=0, le=1)] = 0.6


class StepSettings(Section):
    """One ``[playbook.<step>]`` table; its defaults are the step's, from the step table."""

    #: what ``at`` may start from (the registry's anchors; see :func:`playbook_model`)
    anchors: ClassVar[tuple[str, ...]] = DEFAULT_STEPS.anchors

    mode: Mode = "send"
    at: str = ""
    time_of_day: str = ""
    template: str = ""

    @field_validator("time_of_day")
    @classmethod
    def _time(cls, value: str) -> str:
        if value:
            parse_clock_time(value)
        return value

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        if value:
            parse_at(value, cls.anchors)
        return value


class ProposalStepSettings(StepSettings):
    """The table of a step that proposes the next coffee (``attaches = "proposal"``)."""

    propose: Literal["request", "publish", "none"] = "request"
    proposal_length: Duration = "30m"


class RepeatingStepSettings(StepSettings):
    """The table of a step that repeats (``every`` in the step table)."""

    every: Duration = "4mo"


class StepTables(Section):
    """``[playbook]``: one table per step; the fields are made from a step table by :func:`playbook_model`."""

    def table(self, step: str) -> StepSettings:
        """The ``[playbook.<step>]`` table (KeyError for a step these settings do not have)."""
        found = getattr(self, step, None) if step in type(self).model_fields else None
        if not isinstance(found, StepSettings):
            raise KeyError(step)
        return found

    @model_validator(mode="before")
    @classmethod
    def _keep_step_defaults(cls, data: Any) -> Any:
        """A step table that sets some keys keeps that step's defaults for the others.

        Without this, ``[playbook.follow_up] at = "end + 30d"`` would reset the
        follow-up's mode from "draft" to the class default "send".
        """
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is not None and isinstance(value, dict):
                default = field.get_default(call_default_factory=True, validated_data={})
                merged[name] = {**default.model_dump(exclude_defaults=True), **value}
        return merged


def step_table_class(spec: StepSpec, anchors: tuple[str, ...] = DEFAULT_STEPS.anchors) -> type[StepSettings]:
    """The settings class of ``spec``'s table: the keys its attachment or repetition needs."""
    base: type[StepSettings] = StepSettings
    if spec.attaches == "proposal":
        base = ProposalStepSettings
    elif spec.every:
        base = RepeatingStepSettings
    if anchors == base.anchors:
        return base
    special = create_model(base.__name__, __base__=base, __module__=__name__)
    special.anchors = anchors
    return special


def _default_table(spec: StepSpec, table: type[StepSettings]) -> StepSettings:
    extra = {"every": spec.every} if spec.every and issubclass(table, RepeatingStepSettings) else {}
    return table(mode=spec.mode, at=spec.at, time_of_day=spec.time_of_day, **extra)


def playbook_model(steps: StepRegistry) -> type[StepTables]:
    """The ``[playbook]`` model of ``steps``: one table per step, in order, with the step's defaults."""
    fields: dict[str, Any] = {}
    for spec in steps:
        table = step_table_class(spec, steps.anchors)
        fields[spec.name] = (table, Field(default_factory=partial(_default_table, spec, table)))
    return create_model("PlaybookSettings", __base__=StepTables, __module__=__name__, **fields)


if TYPE_CHECKING:  # mypy knows the base class and its table(); the fields are the step table's
    PlaybookSettings = StepTables
else:  # the tables of the default steps (the name lets pickle find the class)
    PlaybookSettings = playbook_model(DEFAULT_STEPS)


class IntakeSettings(Section):
    """Budgets that keep one stranger's mail from holding up everything else."""

    #: CPU seconds one message may take to be understood; over it, it is kept as unreadable
    message_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    #: memory for the worker that understands, e.g. "512MB"; over it, the message is kept as unreadable
    message_memory: Annotated[str, Field(pattern=r"^\s*\d+\s*(KB|MB|GB)\s*$")] = "512MB"
    #: seconds one daemon sync spends understanding before it commits and lets the routine run
    sync_seconds: Annotated[float, Field(gt=0, le=86400)] = 120.0
    #: with no successful sync for this long, mail to contacts is held (a cancel may be waiting unread)
    stale_after: Duration = "30m"
    #: one short mail to the owner for each forwarded request: what it became, and what mailflow waits for
    acknowledge: bool = True

    def memory_bytes(self) -> int:
        number, unit = re.match(r"^\s*(\d+)\s*(KB|MB|GB)\s*$", self.message_memory).groups()  # type: ignore[union-attr]
        return int(number) * {"KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit]


class DaemonSettings(Section):
    tick_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0
    idle_slice_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0
    idle_renew: Duration = "10m"
    alert_after: Duration = "30m"
    heartbeat_file: Path | None = None
    lock_file: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix="MAILFLOW_",
        env_nested_delimiter="__",
        extra="forbid",
        hide_input_in_errors=True,
        nested_model_default_partial_update=True,
    )

    #: the step table these settings configure; :func:`settings_class` makes settings for another
    steps: ClassVar[StepRegistry] = DEFAULT_STEPS

    owner: OwnerSettings = Field(default_factory=OwnerSettings)
    mailbox: MailboxSettings = Field(default_factory=MailboxSettings)
    drafts: DraftsSettings | None = None
    smtp: SmtpSettings | None = None
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    sending: SendingSettings = Field(default_factory=SendingSettings)
    trust: TrustSettings = Field(default_factory=TrustSettings)
    playbook: PlaybookSettings = Field(default_factory=PlaybookSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_path.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # -- derived paths -------------------------------------------------
    def data_folder(self) -> Path:
        return self.data.folder or xdg_data_home() / "mailflow"

    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_folder() / 'mailflow.db'}"

    def outbox_folder(self) -> Path:
        return self.outbox.folder or self.data_folder() / "outbox"

    def owner_zone(self) -> ZoneInfo:
        return ZoneInfo(self.owner.timezone)


# -- locating and loading ------------------------------------------------


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_config_path() -> Path:
    return xdg_config_home() / "mailflow" / "config.toml"


def find_config(explicit: Path | None) -> Path | None:
    """The config file to read, or None when there is none at all.

    An explicit ``--config`` (or ``MAILFLOW_CONFIG``) that does not exist is
    an error, never a silent fallback to defaults.
    """
    if explicit is None and os.environ.get("MAILFLOW_CONFIG"):
        explicit = Path(os.environ["MAILFLOW_CONFIG"])
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(
                f"config file {explicit} does not exist",
                hint="check the path, or run `mailflow init --config PATH` to create one",
            )
        return explicit
    path = default_config_path()
    return path if path.is_file() else None


def settings_class(steps: StepRegistry) -> type[Settings]:
    """Settings whose ``[playbook]`` has a table for each of ``steps``, and that carry them.

    Everything built from such settings (the planner, dispatch, compose, the
    sinks) reads the steps from ``settings.steps``.
    """
    if steps == DEFAULT_STEPS:
        return Settings
    playbook = playbook_model(steps)
    made = create_model(
        "Settings",
        __base__=Settings,
        __module__=__name__,
        playbook=(playbook, Field(default_factory=playbook)),
    )
    made.steps = steps
    return made


def load_settings(
    path: Path | None, overrides: dict[str, Any] | None = None, *, steps: StepRegistry = DEFAULT_STEPS
) -> Settings:
    """Build the settings from ``path`` (may be None), the environment and ``overrides``.

    ``steps``: the step table to configure (the default playbook unless a caller registered more).
    """
    if path is not None:
        _check_toml(path)
    token = _config_path.set(path)
    try:
        return settings_class(steps)(**(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    finally:
        _config_path.reset(token)


def _check_toml(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


_MESSAGES = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "float_parsing": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "extra_forbidden": "unknown setting (see config.example.toml for the keys of this section)",
    "missing": "this setting is required",
    "model_type": "expected a table of settings",
    "model_attributes_type": "expected a table of settings",
}


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem: ``key.path: what is expected, got "value"``."""
    lines = []
    for error in exc.errors(include_input=True, include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        lines.append(f"{loc}: {_explain(error)}")
    return lines


def _explain(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    shown = _show(value)
    if kind == "extra_forbidden":
        return _MESSAGES[kind]
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}, got {shown}"
    if kind in {"greater_than_equal", "less_than_equal", "int_parsing", "int_type"} and _is_port(error):
        return f"expected an integer from 1 to 65535, got {shown}"
    if kind == "greater_than_equal":
        return f"expected a number of at least {ctx.get('ge')}, got {shown}"
    if kind == "less_than_equal":
        return f"expected a number of at most {ctx.get('le')}, got {shown}"
    if kind == "greater_than":
        return f"expected a number above {ctx.get('gt')}, got {shown}"
    if kind == "string_pattern_mismatch":
        return f'expected a duration like "3h", "1d", "2w" or "4mo", got {shown}'
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    base = _MESSAGES.get(kind, error["msg"])
    return f"{base}, got {shown}" if kind != "missing" else base


def _is_port(error: Any) -> bool:
    return bool(error["loc"]) and error["loc"][-1] == "port"


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a " + type(value).__name__
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f'"{text}"'


# -- small parsers shared by the planner and the config -------------------

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WINDOW = re.compile(
    r"^\s*([A-Za-z]{3})\s*(?:-\s*([A-Za-z]{3}))?\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$"
)


def parse_clock_time(text: str) -> dtime:
    """``"08:00"`` -> a time of day."""
    match = re.match(r"^\s*(\d{1,2}):(\d{2})\s*$", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f'expected a time of day like "08:00", got "{text}"')
    return dtime(int(match.group(1)), int(match.group(2)))


ANCHORS = DEFAULT_STEPS.anchors
_AT = re.compile(r"^\s*([a-z_]+)\s*(?:([+-])\s*(\d+\s*(?:mo|m|h|d|w|s)))?\s*$")


def parse_at(text: str, anchors: tuple[str, ...] = ANCHORS) -> tuple[str, timedelta]:
    """``"end + 3h"`` -> ("end", 3 hours); ``"start - 1d"`` -> ("start", -1 day); ``"scheduled"``."""
    match = _AT.match(text)
    if not match or match.group(1) not in anchors:
        raise ValueError(
            f"expected an anchor ({', '.join(anchors)}) with an optional offset "
            f'like "end + 3h" or "start - 1d", got "{text}"'
        )
    offset = parse_duration(match.group(3)) if match.group(3) else timedelta(0)
    return match.group(1), -offset if match.group(2) == "-" else offset


def parse_window(text: str) -> tuple[set[int], dtime, dtime]:
    """``"Mon-Fri 08:00-18:00"`` -> (weekday numbers, start, end)."""
    match = _WINDOW.match(text)
    problem = f'expected a window like "Mon-Fri 08:00-18:00", got "{text}"'
    if not match:
        raise ValueError(problem)
    first, last = match.group(1).lower(), (match.group(2) or match.group(1)).lower()
    if first not in _DAYS or last not in _DAYS:
        raise ValueError(problem)
    start, end = parse_clock_time(match.group(3)), parse_clock_time(match.group(4))
    if end <= start:
        raise ValueError(problem + " (the end must come after the start)")
    a, b = _DAYS.index(first), _DAYS.index(last)
    days = set(range(a, b + 1)) if a <= b else set(range(a, 7)) | set(range(0, b + 1))
    return days, start, end


def is_loopback(host: str) -> bool:
    return host.strip().lower() in LOOPBACK_HOSTS or host.startswith("127.")
