"""`mailflow check` against the live rig: a real Dovecot and a real aiosmtpd."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli_helpers import Result, run_cli
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer
from tests.rig.tools import free_port

WRONG = "Wr0ng-S3cret-for-check"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {_toml(value)}" for key, value in values.items() if value is not None]
    return "\n".join(lines) + "\n"


def _config(
    tmp_path: Path,
    user: ImapUser,
    smtp: SmtpServer,
    *,
    mailbox: dict[str, Any] | None = None,
    drafts: dict[str, Any] | None = None,
    smtp_settings: dict[str, Any] | None = None,
    authserv_id: str = "mx.example.org",
) -> Path:
    """A config for the live rig; each dict overrides (None removes) keys of its section."""
    login = {"host": user.host, "username": user.name, "password": user.password, "timeout": 5.0}
    sections = {
        "owner": {"addresses": None},
        "data": {"folder": str(tmp_path / "data")},
        "trust": {"authserv_id": authserv_id},
        "mailbox": {
            "kind": "imap",
            **login,
            "port": user.imap_port,
            "security": "starttls",
            "ca_file": str(user.ca_file),
            **(mailbox or {}),
        },
        "drafts": {
            **login,
            "port": user.imaps_port,
            "security": "tls",
            "ca_file": str(user.ca_file),
            **(drafts or {}),
        },
        "smtp": {
            **login,
            "port": smtp.port,
            "security": smtp.security,
            "ca_file": str(smtp.ca_file),
            "from_address": "ana@example.org",
            **(smtp_settings or {}),
        },
    }
    path = tmp_path / "config.toml"
    path.write_text("\n".join(_section(name, values) for name, values in sections.items()), encoding="utf-8")
    return path


def _check(path: Path, *args: str) -> Result:
    result = run_cli(["--config", str(path), "check", *args])
    assert "Traceback" not in result.output
    return result


def _fail_lines(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("FAIL")]


def test_check_passes_against_the_live_servers(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    result = _check(_config(tmp_path, imap_user, smtp_server))
    assert result.exit_code == 0, result.output
    assert (
        f"[mailbox] logged in to 127.0.0.1:{imap_user.imap_port} (starttls) as {imap_user.name}"
        in result.output
    )
    assert f"[drafts] logged in to 127.0.0.1:{imap_user.imaps_port} (tls)" in result.output
    assert "Drafts (\\Drafts)" in result.output and "Sent (\\Sent)" in result.output
    assert "IDLE CONDSTORE QRESYNC MOVE SPECIAL-USE" in result.output
    assert '[drafts] drafts are saved to "Drafts"' in result.output
    assert "AUTH mechanisms: LOGIN PLAIN XOAUTH2" in result.output
    assert _fail_lines(result) == []
    assert "all checks passed" in result.output
    assert imap_user.password not in result.output


def test_check_json_lists_folders_and_capabilities(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    result = _check(_config(tmp_path, imap_user, smtp_server), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True
    mailbox = data["details"]["mailbox"]
    assert mailbox["capabilities"]["QRESYNC"] is True
    assert {"name": "Drafts", "special_use": "\\Drafts"} in mailbox["folders"]
    assert (mailbox["drafts_folder"], mailbox["sent_folder"]) == ("Drafts", "Sent")
    assert data["details"]["smtp"]["auth_mechanisms"] == ["LOGIN", "PLAIN", "XOAUTH2"]


def test_a_wrong_password_fails_with_one_sentence(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    result = _check(_config(tmp_path, imap_user, smtp_server, mailbox={"password": WRONG}))
    assert result.exit_code == 1
    assert _fail_lines(result) == [
        f"FAIL [mailbox] the IMAP server at 127.0.0.1:{imap_user.imap_port} refused the login "
        f"for user {imap_user.name}"
    ]
    assert "fix: check mailbox.username and the password" in result.output
    assert WRONG not in result.output
    assert "[drafts] logged in" in result.output  # one failure does not stop the other checks


def test_a_closed_port_fails_with_one_sentence(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    closed = free_port()
    result = _check(_config(tmp_path, imap_user, smtp_server, drafts={"port": closed}))
    assert result.exit_code == 1
    assert _fail_lines(result) == [f"FAIL [drafts] cannot reach 127.0.0.1:{closed} (connection refused)"]
    assert "fix: check drafts.host and drafts.port, and that the server is up" in result.output


def test_an_untrusted_certificate_fails_with_the_fix(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    result = _check(_config(tmp_path, imap_user, smtp_server, mailbox={"ca_file": None}))
    assert result.exit_code == 1
    [line] = _fail_lines(result)
    assert line.startswith(
        f"FAIL [mailbox] the TLS certificate of 127.0.0.1:{imap_user.imap_port} is not trusted"
    )
    assert "fix: set ca_file or fix the certificate" in result.output
    assert imap_user.password not in result.output


def test_risky_settings_warn_but_pass(tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer) -> None:
    unverified = {"ca_file": None, "tls_verify": False}
    result = _check(_config(tmp_path, imap_user, smtp_server, mailbox=unverified, authserv_id=""))
    assert result.exit_code == 0, result.output
    assert "warn [mailbox] mailbox.tls_verify is false" in result.output
    assert "warn [trust] trust.authserv_id is empty" in result.output


def test_a_missing_folder_and_a_wrong_smtp_password_fail_each(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    wrong_smtp = {"password": None, "password_command": f"echo {WRONG}"}
    path = _config(
        tmp_path, imap_user, smtp_server, mailbox={"folder": "Interviews"}, smtp_settings=wrong_smtp
    )
    result = _check(path)
    assert result.exit_code == 1, result.output
    assert _fail_lines(result) == [
        'FAIL [mailbox] mailbox.folder: the folder "Interviews" does not exist on the server',
        f"FAIL [smtp] the SMTP server at 127.0.0.1:{smtp_server.port} refused the login for user {imap_user.name}",
    ]
    assert WRONG not in result.output


def test_a_bad_config_and_a_missing_maildir_fail_without_servers(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[mailbox]\nport = "imap"\n', encoding="utf-8")
    result = _check(path)
    assert result.exit_code == 1
    assert _fail_lines(result) == [
        'FAIL [config] mailbox.port: expected an integer from 1 to 65535, got "imap"'
    ]
    path.write_text(f'[mailbox]\nkind = "maildir"\npath = "{tmp_path / "nowhere"}"\n', encoding="utf-8")
    result = _check(path)
    assert result.exit_code == 1
    assert _fail_lines(result) == [
        f"FAIL [mailbox] mailbox.path: {tmp_path / 'nowhere'} is not a Maildir (it needs cur/, new/ and tmp/)"
    ]
    assert "warn [smtp] no [smtp] section" in result.output
    assert (
        "warn [drafts] no [drafts] section: the draft steps (thank_you, follow_up, stay_in_touch)"
        in result.output
    )


def test_a_maildir_mailbox_is_counted(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    (tmp_path / "Maildir" / "new" / "1.eml").write_bytes(b"Subject: x\n\nx\n")
    path = tmp_path / "config.toml"
    path.write_text(f'[mailbox]\nkind = "maildir"\npath = "{tmp_path / "Maildir"}"\n', encoding="utf-8")
    result = _check(path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["details"]["mailbox"]["messages"] == 1
