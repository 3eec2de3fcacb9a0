"""``mailflow check``: is the configuration valid, and does every server let us in?

Each check is a function ``(settings, report) -> None`` that adds findings to
the report; ``CHECKS`` lists them in the order they run.  A check may raise a
mailflow error: it becomes one failure line with its fix, and the next check
still runs.  Exit 0 when nothing failed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import typer
from rich.markup import escape

from mailflow.cli.app import app, handles_errors, out, print_json, settings, state
from mailflow.cli.errors import EXIT_OK, EXIT_RUNTIME, next_step_for
from mailflow.config import ImapAccount, MailboxSettings, ServerSettings, Settings, find_config
from mailflow.errors import ConfigError, MailflowError
from mailflow.net.base import endpoint_for
from mailflow.net.imap import (
    Folder,
    capabilities_that_matter,
    close_quietly,
    connect_imap,
    find_drafts_folder,
    find_folder,
    find_sent_folder,
    list_folders,
)
from mailflow.net.smtp import auth_mechanisms, connect_smtp
from mailflow.net.smtp import close_quietly as close_smtp
from mailflow.text import one_line

log = logging.getLogger("mailflow.check")

Level = Literal["ok", "info", "warn", "fail"]
_MARKS = {
    "ok": "[green]ok  [/green]",
    "info": "    ",
    "warn": "[yellow]warn[/yellow]",
    "fail": "[red]FAIL[/red]",
}


@dataclass
class Finding:
    level: Level
    section: str
    message: str
    hint: str = ""


@dataclass
class CheckReport:
    """What the checks found: findings for people, ``details`` for ``--json``."""

    config: str
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, level: Level, section: str, message: str, hint: str = "") -> None:
        self.findings.append(Finding(level, section, message, hint))

    def add_error(self, section: str, error: MailflowError) -> None:
        lines = error.problems if isinstance(error, ConfigError) else [str(error)]
        hint = next_step_for(error)
        for line in lines:
            self.add("fail", section, line, hint)

    def detail(self, section: str, **values: Any) -> None:
        self.details.setdefault(section, {}).update(values)

    @property
    def passed(self) -> bool:
        return not any(f.level == "fail" for f in self.findings)


Check = Callable[[Settings, CheckReport], None]


# -- the checks ----------------------------------------------------------------


def check_mailbox(config: Settings, report: CheckReport) -> None:
    """[mailbox]: the Maildir is there, or the IMAP login works and the folders exist."""
    box = config.mailbox
    if box.kind == "maildir":
        _check_maildir(box, report)
        return
    client = connect_imap(box, "mailbox")
    try:
        folders = _describe_imap(client, box, "mailbox", report)
        for key, name in (("folder", box.folder), ("move_processed_to", box.move_processed_to)):
            if name:
                _require_folder(folders, name, f"mailbox.{key}", report, section="mailbox")
        if box.idle and not capabilities_that_matter(client)["IDLE"]:
            polled = f"the server does not offer IDLE: new mail is polled every {box.poll_interval} s"
            report.add("warn", "mailbox", polled)
    finally:
        close_quietly(client)


def check_drafts(config: Settings, report: CheckReport) -> None:
    """[drafts]: the login works and there is a Drafts folder to put drafts in."""
    account = config.drafts
    if account is None:
        return
    client = connect_imap(account, "drafts")
    try:
        folders = _describe_imap(client, account, "drafts", report)
    finally:
        close_quietly(client)
    if account.folder:
        found = _require_folder(folders, account.folder, "drafts.folder", report, section="drafts")
    else:
        found = find_drafts_folder(folders)
        if found is None:
            report.add(
                "fail",
                "drafts",
                f"no Drafts folder was found at {account.host}",
                hint='set [drafts] folder = "..." to the folder your mail program keeps drafts in',
            )
    if found is not None:
        report.add("ok", "drafts", f'drafts are saved to "{one_line(found.name, 80)}"')
        report.detail("drafts", drafts_folder=found.name)


def check_smtp(config: Settings, report: CheckReport) -> None:
    """[smtp]: the login works; the From address is known."""
    smtp_settings = config.smtp
    if smtp_settings is None:
        report.add(
            "warn",
            "smtp",
            f"no [smtp] section: mail that should be sent is written to {config.outbox_folder()} instead",
            hint="add an [smtp] section to send mail",
        )
        return
    if not (smtp_settings.from_address or config.owner.addresses):
        report.add(
            "fail",
            "smtp",
            "mail would have no From address: smtp.from_address and owner.addresses are both empty",
            hint='set [owner] addresses = ["you@example.org"]',
        )
    smtp = connect_smtp(smtp_settings)
    try:
        mechanisms = auth_mechanisms(smtp)
    finally:
        close_smtp(smtp)
    report.add("ok", "smtp", _login_line(smtp_settings, "smtp"))
    report.add("info", "smtp", "AUTH mechanisms: " + (" ".join(mechanisms) or "none offered"))
    report.detail("smtp", server=_where(smtp_settings, "smtp"), auth_mechanisms=mechanisms)


def check_risky_settings(config: Settings, report: CheckReport) -> None:
    """Settings that work but are risky or surprising."""
    if not config.trust.authserv_id:
        report.add(
            "warn",
            "trust",
            "trust.authserv_id is empty: a message counts as yours by its From address alone, "
            "which is easy to forge",
            hint="set it to the authserv-id in your own server's Authentication-Results header",
        )
    for section, server in _servers(config):
        if not server.tls_verify:
            report.add(
                "warn",
                section,
                f"{section}.tls_verify is false: anyone on the network path could pose as {server.host}",
                hint="set ca_file to the server's CA instead, and tls_verify = true",
            )
    drafting = [name for name, step in _steps(config) if step == "draft"]
    if config.drafts is None and drafting:
        report.add(
            "warn",
            "drafts",
            f"no [drafts] section: the draft steps ({', '.join(drafting)}) are mailed to you instead (notify)",
            hint="add a [drafts] section for your own mail account to get them as drafts",
        )


#: The checks `mailflow check` runs, in order. To add one, write a function
#: `(settings, report) -> None` above and list it here with the section it reports on.
def check_playbook_and_templates(config: Settings, report: CheckReport) -> None:
    """Every step's timing parses, and every template renders for both roles, with and without notes."""
    from mailflow.compose import check_templates
    from mailflow.playbook import PlaybookConfig

    PlaybookConfig.from_settings(config)
    problems = check_templates(config)
    for problem in problems:
        report.add(
            "fail", "templates", problem, "fix the template named above; `mailflow preview` shows a step"
        )
    if not problems:
        report.add("ok", "templates", "every template renders for both roles, with and without notes")


CHECKS: list[tuple[str, Check]] = [
    ("mailbox", check_mailbox),
    ("drafts", check_drafts),
    ("smtp", check_smtp),
    ("templates", check_playbook_and_templates),
    ("settings", check_risky_settings),
]


def run_checks(config: Settings, report: CheckReport, checks: list[tuple[str, Check]] | None = None) -> None:
    """Run every check; a failing one adds its failure and the others still run."""
    for section, check in checks if checks is not None else CHECKS:
        try:
            check(config, report)
        except MailflowError as exc:
            report.add_error(section, exc)
        except Exception as exc:  # a bug, not a finding: say so without a traceback
            log.debug("check %s failed", section, exc_info=exc)
            report.add(
                "fail",
                section,
                f"unexpected {type(exc).__name__}: {one_line(str(exc), 200)}",
                hint="rerun with --log-level debug to see where it happened, and report it",
            )


# -- helpers -----------------------------------------------------------------


def _check_maildir(box: MailboxSettings, report: CheckReport) -> None:
    if box.path is None:
        report.add(
            "fail",
            "mailbox",
            'mailbox.path is not set, and kind = "maildir" needs it',
            hint='set mailbox.path to your Maildir (the folder holding cur/, new/ and tmp/), or kind = "imap"',
        )
        return
    path = box.path.expanduser()
    missing = [sub for sub in ("cur", "new", "tmp") if not (path / sub).is_dir()]
    if not path.is_dir() or missing:
        report.add(
            "fail",
            "mailbox",
            f"mailbox.path: {path} is not a Maildir (it needs cur/, new/ and tmp/)",
            hint="fix the path, or create the Maildir (mbsync or offlineimap fill it)",
        )
    elif not all(os.access(path / sub, os.R_OK | os.X_OK) for sub in ("cur", "new")):
        report.add("fail", "mailbox", f"mailbox.path: {path} cannot be read", hint="fix its permissions")
    else:
        count = sum(1 for sub in ("cur", "new") for _entry in os.scandir(path / sub))
        report.add("ok", "mailbox", f"Maildir {path} holds {count} message(s)")
        report.detail("mailbox", kind="maildir", path=str(path), messages=count)


def _describe_imap(client: Any, account: ImapAccount, section: str, report: CheckReport) -> list[Folder]:
    capabilities = capabilities_that_matter(client)
    folders = list_folders(client)
    drafts, sent = find_drafts_folder(folders), find_sent_folder(folders)
    report.add("ok", section, _login_line(account, section))
    offered = [name for name, present in capabilities.items() if present]
    missing = [name for name, present in capabilities.items() if not present]
    line = "capabilities: " + (" ".join(offered) or "none of interest")
    report.add("info", section, line + (f" (missing: {' '.join(missing)})" if missing else ""))
    report.add("info", section, "folders: " + ", ".join(_show_folder(f, drafts, sent) for f in folders))
    report.detail(
        section,
        kind="imap",
        server=_where(account, section),
        capabilities=capabilities,
        folders=[{"name": f.name, "special_use": f.special_use} for f in folders],
        drafts_folder=drafts.name if drafts else None,
        sent_folder=sent.name if sent else None,
    )
    return folders


def _show_folder(folder: Folder, drafts: Folder | None, sent: Folder | None) -> str:
    name = one_line(folder.name, 80)
    if folder == drafts:
        return f"{name} (\\Drafts)"
    if folder == sent:
        return f"{name} (\\Sent)"
    return name


def _require_folder(
    folders: list[Folder], name: str, key: str, report: CheckReport, *, section: str
) -> Folder | None:
    found = find_folder(folders, name)
    if found is None:
        choices = ", ".join(f'"{one_line(f.name, 40)}"' for f in folders[:8])
        report.add(
            "fail",
            section,
            f'{key}: the folder "{one_line(name, 80)}" does not exist on the server',
            hint=f"create it, or set {key} to one of: {choices}",
        )
    return found


def _where(server: ServerSettings, section: str) -> str:
    endpoint = endpoint_for(server, section, "SMTP" if section == "smtp" else "IMAP")
    return endpoint.address


def _login_line(server: ServerSettings, section: str) -> str:
    return f"logged in to {_where(server, section)} ({server.security}) as {one_line(server.username, 80)}"


def _servers(config: Settings) -> list[tuple[str, ServerSettings]]:
    found: list[tuple[str, ServerSettings]] = []
    if config.mailbox.kind == "imap":
        found.append(("mailbox", config.mailbox))
    if config.drafts is not None:
        found.append(("drafts", config.drafts))
    if config.smtp is not None:
        found.append(("smtp", config.smtp))
    return found


def _steps(config: Settings) -> list[tuple[str, str]]:
    return [(name, config.playbook.table(name).mode) for name in config.steps.names]


# -- the command ---------------------------------------------------------------


@app.command()
@handles_errors
def check(
    json_output: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Check the configuration and log in to every configured server.

    Lists the folders (\\Drafts and \\Sent marked), the capabilities that matter,
    and risky settings.  Exit 0 when nothing failed, 1 otherwise.
    """
    report = CheckReport(config=_config_name())
    try:
        current = settings(required=True)
    except ConfigError as exc:
        report.add_error("config", exc)
    else:
        report.add("ok", "config", "the configuration is valid")
        run_checks(current, report)
    if json_output:
        print_json({"ok": report.passed, **asdict(report)})
    else:
        _print(report)
    raise typer.Exit(EXIT_OK if report.passed else EXIT_RUNTIME)


def _config_name() -> str:
    try:
        path = find_config(state.config_path)
    except ConfigError:
        path = state.config_path
    return str(path) if path is not None else "(no file: defaults and environment)"


def _print(report: CheckReport) -> None:
    out.print(f"config: {escape(report.config)}", soft_wrap=True)
    for finding in report.findings:
        label = escape(f"[{finding.section}]")
        out.print(f"{_MARKS[finding.level]} {label} {escape(finding.message)}", soft_wrap=True)
        if finding.hint and finding.level in ("warn", "fail"):
            out.print(f"       fix: {escape(finding.hint)}", soft_wrap=True)
    failures = sum(1 for f in report.findings if f.level == "fail")
    warnings = sum(1 for f in report.findings if f.level == "warn")
    verdict = "all checks passed" if not failures else f"{failures} check(s) failed"
    out.print(f"{verdict}, {warnings} warning(s)", soft_wrap=True)
