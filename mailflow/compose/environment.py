"""Rendering templates: a sandboxed Jinja2 environment over two folders.

A template is ``<name>.txt`` (a ``Subject:`` line, a blank line, then the
plain-text body) and, optionally, ``<name>.html`` next to it (the HTML body,
autoescaped).  ``<name>`` is ``<step>.<role>`` or ``<step>``.  The user's
``[templates] folder`` is searched before the defaults, and within a folder
``<step>.<role>`` before ``<step>``; the first ``.txt`` found decides, and its
``.html`` must sit beside it (a user's text never goes out with the default's
HTML).  Files whose name starts with ``_`` are partials for ``{% include %}``.

Every failure becomes one :class:`~mailflow.errors.TemplateError` sentence
that names the template file, the line and the variable.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from mailflow.compose.context import (
    VARIABLES,
    ComposeContext,
    first_point,
    template_variables,
    view_fields,
)
from mailflow.config import Settings
from mailflow.errors import TemplateError
from mailflow.resources import default_templates_dir
from mailflow.text import one_line

USER, DEFAULT = "@user", "@default"
_SUBJECT = re.compile(r"^\ufeff?subject:[ \t]*(.*?)\s*$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$")


@dataclass(frozen=True)
class Rendered:
    """One rendered mail: what the templates produced, before any header is made."""

    subject: str
    text: str
    html: str | None
    template: str  # the .txt file that was used, as shown in messages


@dataclass(frozen=True)
class Resolved:
    """Which files make a template."""

    folder: str  # USER or DEFAULT
    name: str  # "thank_you.seeker" or "thank_you"
    text_path: Path
    html_path: Path | None

    @property
    def shown(self) -> str:
        return show_path(self.text_path, self.folder)


def show_path(path: Path, folder: str) -> str:
    """How a template file is named in messages."""
    return f"default template {path.name}" if folder == DEFAULT else f"template {path}"


# -- loading --------------------------------------------------------------------


class _Loader(jinja2.BaseLoader):
    """Serves ``@folder/<name>.txt:subject``, ``...:body``, ``@folder/<name>.html`` and partials."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.folders = folders

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        token, _, rest = template.partition("/")
        if token in self.folders:
            name, _, part = rest.partition(":")
            return self._read(self.folders[token] / name, template, part)
        for folder in self.folders.values():  # a partial: user's first
            path = folder.joinpath(*split_template_path(template))
            if path.is_file():
                return self._read(path, template, "")
        raise jinja2.TemplateNotFound(template)

    def _read(self, path: Path, template: str, part: str) -> tuple[str, str, Callable[[], bool]]:
        try:
            source = path.read_text(encoding="utf-8")
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise jinja2.TemplateNotFound(template) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"Template {path} cannot be read ({exc}).", template=str(path)) from None
        if part:
            source = split_text_template(source, path)[0 if part == "subject" else 1]

        def uptodate() -> bool:
            try:
                return path.stat().st_mtime == mtime
            except OSError:
                return False

        return source, str(path), uptodate


def split_text_template(source: str, path: Path) -> tuple[str, str]:
    """``Subject: ...`` + blank line + body -> (subject source, body source).

    The body keeps its line numbers: the header lines become empty lines.
    """
    lines = source.replace("\r\n", "\n").split("\n")
    match = _SUBJECT.match(lines[0])
    if not match:
        raise TemplateError(
            f'Template {path}, line 1 must be "Subject: ..." followed by a blank line and the body.',
            template=str(path),
        )
    if len(lines) > 1 and lines[1].strip():
        raise TemplateError(
            f"Template {path}, line 2 must be blank: it separates the subject from the body.",
            template=str(path),
        )
    return match.group(1), "\n\n" + "\n".join(lines[2:])


class _Undefined(jinja2.StrictUndefined):
    """StrictUndefined whose message names the variable as the template wrote it."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        name, obj = self._undefined_name, self._undefined_obj
        if self._undefined_exception is SecurityError:
            return f"templates may not use {name} (the sandbox keeps Python internals out of reach)"
        if obj is missing:
            return _unknown(str(name), str(name), list(VARIABLES))
        label = getattr(type(obj), "_label", "")
        if label and isinstance(name, str):
            return _unknown(f"{label}.{name}", name, view_fields(obj), prefix=f"{label}.")
        if not isinstance(name, str):
            return f"there is no item {name!r} in {jinja2.utils.object_type_repr(obj)}"
        return f"{name} is not an attribute of {jinja2.utils.object_type_repr(obj)}"


def _unknown(dotted: str, name: str, choices: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
    return f"{dotted} is not a template variable{hint}"


def _quote(text: str, prefix: str = "> ") -> str:
    """``{{ notes | quote }}``: each line prefixed, as in a reply."""
    return "\n".join(prefix + line if line else prefix.rstrip() for line in str(text).split("\n"))


def _is_html(name: str | None) -> bool:
    return bool(name) and str(name).endswith(".html")


@functools.lru_cache(maxsize=8)
def environment(user_folder: Path | None) -> jinja2.Environment:
    """The sandboxed environment over the user's folder (when set) and the defaults."""
    folders: dict[str, Path] = {}
    if user_folder is not None:
        folders[USER] = user_folder
    folders[DEFAULT] = default_templates_dir()
    env = ImmutableSandboxedEnvironment(
        loader=_Loader(folders),
        undefined=_Undefined,
        autoescape=_is_html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
    )
    env.filters["quote"] = _quote
    env.filters["first_point"] = first_point
    return env


def user_folder(settings: Settings) -> Path | None:
    folder = settings.templates.folder
    return folder.expanduser() if folder is not None else None


def folders(settings: Settings) -> list[tuple[str, Path]]:
    """The folders searched, user's first; a configured folder that is missing is an error."""
    result: list[tuple[str, Path]] = []
    folder = user_folder(settings)
    if folder is not None:
        if not folder.is_dir():
            raise TemplateError(
                f"The templates folder {folder} does not exist.",
                template=str(folder),
                hint="create it, or remove [templates] folder from the configuration",
            )
        result.append((USER, folder))
    result.append((DEFAULT, default_templates_dir()))
    return result


def base_name(step: str, settings: Settings) -> str:
    """``step``, or the name ``[playbook.<step>] template`` chose."""
    chosen = settings.playbook.table(step).template if step in settings.steps else ""
    if chosen and not _NAME.match(chosen):
        raise TemplateError(
            f'playbook.{step}.template = "{one_line(chosen, 60)}" is not a template name '
            '(letters, digits, "_" and "-" only, like "thank_you_short").',
            template=chosen,
        )
    return chosen or step


def resolve(step: str, role: str, settings: Settings) -> Resolved:
    """The files that make the template of ``step`` for ``role``."""
    base = base_name(step, settings)
    searched = folders(settings)
    for token, folder in searched:
        for name in (f"{base}.{role}", base):
            text = folder / f"{name}.txt"
            if text.is_file():
                html = folder / f"{name}.html"
                return Resolved(token, name, text, html if html.is_file() else None)
    places = " or ".join(str(folder) for _, folder in searched)
    raise TemplateError(
        f"There is no template for {step}: neither {base}.{role}.txt nor {base}.txt is in {places}.",
        template=base,
    )


# -- rendering ------------------------------------------------------------------


def render(
    step: str, role: str, ctx: ComposeContext, settings: Settings, extra: dict[str, Any] | None = None
) -> Rendered:
    """Render the template of ``step`` for ``role``: subject, text and (maybe) HTML.

    ``extra``: variables a mail outside the playbook adds (an acknowledgement's ``request``).
    """
    if role not in ("seeker", "adviser"):
        raise ValueError(f"role must be seeker or adviser, not {role!r}")
    if ctx.role != role:
        ctx = dataclasses.replace(ctx, role=role)  # type: ignore[arg-type]
    resolved = resolve(step, role, settings)
    env = environment(user_folder(settings))
    variables = {**template_variables(ctx, step), **(extra or {})}
    prefix = f"{resolved.folder}/{resolved.name}"
    subject = clean_subject(_render(env, f"{prefix}.txt:subject", variables, resolved))
    text = clean_text(_render(env, f"{prefix}.txt:body", variables, resolved))
    html = None
    if resolved.html_path is not None:
        html = _render(env, f"{prefix}.html", variables, resolved).strip() + "\n"
    if not subject:
        raise TemplateError(f"{_cap(resolved.shown)} renders an empty subject.", template=resolved.shown)
    if not text.strip():
        raise TemplateError(f"{_cap(resolved.shown)} renders an empty body.", template=resolved.shown)
    return Rendered(subject=subject, text=text, html=html, template=resolved.shown)


def clean_subject(subject: str) -> str:
    return one_line(subject, 250)


def clean_text(text: str) -> str:
    """Trailing spaces dropped, runs of blank lines (left by conditionals) made one."""
    # "-- " (with its space) is the signature separator mail clients recognise
    lines = [line if line == "-- " else line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return body + "\n"


def _render(env: jinja2.Environment, name: str, variables: dict[str, Any], resolved: Resolved) -> str:
    try:
        template = env.get_template(name)
    except TemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        where = _where(exc.filename, exc.lineno, resolved)
        raise TemplateError(f"{where} has a syntax error: {_uncap(exc.message)}.", template=where) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(
            f"{_cap(resolved.shown)} includes {exc.name}, which is in no templates folder.",
            template=resolved.shown,
        ) from None
    try:
        return template.render(variables)
    except TemplateError:
        raise
    except Exception as exc:  # a template can raise anything; it fails this mail only
        sentence = _runtime_sentence(exc, template.filename or "", resolved)
        raise TemplateError(sentence, template=resolved.shown) from exc


def _runtime_sentence(exc: Exception, filename: str, resolved: Resolved) -> str:
    path, line = _template_frame(exc, filename)
    where = _where(path, line, resolved)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{where} has a syntax error: {_uncap(exc.message)}."
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"{where} includes {exc.name}, which is in no templates folder."
    if isinstance(exc, jinja2.UndefinedError | SecurityError):
        return f"{where}: {exc.message}."
    return f"{where} failed: {type(exc).__name__}: {one_line(str(exc), 200)}."


def _template_frame(exc: BaseException, filename: str) -> tuple[str, int | None]:
    """The innermost template file and line in the traceback Jinja rewrote."""
    found: tuple[str, int | None] = (filename, None)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        name = frame.f_code.co_filename
        if name.endswith((".txt", ".html")):
            found = (name, lineno)
    return found


def _where(path: str | None, line: int | None, resolved: Resolved) -> str:
    shown = resolved.shown
    if path:
        p = Path(path)
        folder = DEFAULT if p.parent == default_templates_dir() else USER
        shown = show_path(p, folder)
    shown = _cap(shown)
    return f"{shown}, line {line}" if line else shown


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _uncap(text: str | None) -> str:
    text = (text or "").rstrip(".")
    return text[:1].lower() + text[1:]
