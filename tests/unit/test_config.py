from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.config import Settings, find_config, load_settings, parse_duration, parse_window
from mailflow.errors import ConfigError
from mailflow.passwords import password_for, program_of
from tests.cli_helpers import run_cli


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("MAILFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_file_then_env_then_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[mailbox]\nhost = "file.example"\nport = 1993\nfolder = "FromFile"\n')
    assert load_settings(path).mailbox.host == "file.example"
    monkeypatch.setenv("MAILFLOW_MAILBOX__HOST", "env.example")
    settings = load_settings(path)
    assert settings.mailbox.host == "env.example"
    assert settings.mailbox.port == 1993  # the file still fills the rest of the section
    flagged = load_settings(path, {"mailbox": {"host": "flag.example"}})
    assert flagged.mailbox.host == "flag.example"
    assert flagged.mailbox.folder == "FromFile"


def test_set_flag_reaches_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    path = write(
        tmp_path, '[owner]\nname = "File"\ntimezone = "Europe/Berlin"\n[mailbox]\npassword = "pw-123"\n'
    )
    monkeypatch.setenv("MAILFLOW_OWNER__NAME", "Env")
    result = run_cli(["--config", str(path), "--set", 'owner.name="Flag"', "config", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["owner"]["name"] == "Flag"
    assert data["owner"]["timezone"] == "Europe/Berlin"
    assert "pw-123" not in result.output
    from mailflow.cli.app import parse_overrides

    assert parse_overrides(["mailbox.port=993", "owner.name=Ana B"]) == {
        "mailbox": {"port": 993},
        "owner": {"name": "Ana B"},
    }


def test_bad_set_flag_is_a_usage_error() -> None:
    result = run_cli(["--set", "nonsense", "config"])
    assert result.exit_code == 2
    assert "--set expects KEY=VALUE" in result.output


def test_defaults_without_any_file() -> None:
    settings = load_settings(None)
    assert settings.mailbox.kind == "maildir"
    assert settings.smtp is None
    assert settings.database_url().startswith("sqlite:///")
    assert settings.database_url().endswith("mailflow/mailflow.db")


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        find_config(tmp_path / "nope.toml")


def test_missing_config_file_via_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILFLOW_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist"):
        find_config(None)


def test_default_location_is_found(tmp_path: Path) -> None:
    path = tmp_path / "xdg-config" / "mailflow" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("", encoding="utf-8")
    assert find_config(None) == path


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[mailbox]\nport = "imap"\n', 'mailbox.port: expected an integer from 1 to 65535, got "imap"'),
        ("[mailbox]\nport = 70000\n", 'mailbox.port: expected an integer from 1 to 65535, got "70000"'),
        ('[mailbox]\nsecurity = "ssl"\n', "mailbox.security: expected one of 'tls', 'starttls' or 'none'"),
        (
            '[owner]\ntimezone = "Mars/Olympus"\n',
            'owner.timezone: expected an IANA time zone like "Europe/Berlin"',
        ),
        ('[mailbox]\nhostname = "x"\n', "mailbox.hostname: unknown setting"),
        ('[sending]\nmax_lateness = "soon"\n', 'sending.max_lateness: expected a duration like "3h"'),
        ('[sending]\nwindow = "weekdays"\n', 'sending.window: expected a window like "Mon-Fri 08:00-18:00"'),
        (
            '[owner]\naddresses = ["not-an-address"]\n',
            'owner.addresses: expected e-mail addresses, got "not-an-address"',
        ),
        (
            '[playbook.thank_you]\nmode = "shout"\n',
            "playbook.thank_you.mode: expected one of 'send', 'draft'",
        ),
    ],
)
def test_bad_config_lines(tmp_path: Path, toml: str, expected: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any(line.startswith(expected) for line in caught.value.problems), caught.value.problems


def test_several_problems_one_line_each(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\nport = "imap"\nsecurity = "ssl"\n[owner]\ntimezone = "X/Y"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert len(caught.value.problems) == 3


def test_bad_config_through_the_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\nport = "imap"\npassword = "hunter2-secret"\n')
    result = run_cli(["--config", str(path), "run", "--once"])
    assert result.exit_code == 2
    assert 'mailbox.port: expected an integer from 1 to 65535, got "imap"' in result.output
    assert "Traceback" not in result.output
    assert "hunter2-secret" not in result.output


def test_invalid_toml_is_one_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, "[mailbox\nport = 1\n")
    result = run_cli(["--config", str(path), "run"])
    assert result.exit_code == 2
    assert "not valid TOML" in result.output


def test_no_configuration_at_all() -> None:
    result = run_cli(["run"])
    assert result.exit_code == 2
    assert (
        "no configuration found: run `mailflow init`, or `mailflow demo` to see it work on sample mail"
        in (" ".join(result.output.split()))
    )


def test_missing_config_flag_through_cli(tmp_path: Path) -> None:
    result = run_cli(["--config", str(tmp_path / "absent.toml"), "run"])
    assert result.exit_code == 2
    assert "absent.toml does not exist" in result.output


def test_password_command_success(tmp_path: Path) -> None:
    path = write(tmp_path, "[mailbox]\npassword_command = \"printf 's3cret-from-cmd\\\\nignored'\"\n")
    settings = load_settings(path)
    assert password_for(settings.mailbox, "mailbox") == "s3cret-from-cmd"


def test_password_command_failure_names_the_setting_the_program_and_the_code(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\npassword_command = "echo leaked-secret; exit 3"\n')
    settings = load_settings(path)
    with pytest.raises(ConfigError) as caught:
        password_for(settings.mailbox, "mailbox")
    message = str(caught.value)
    assert "mailbox.password_command" in message and "(echo ...)" in message
    assert "exit code 3" in message
    assert "leaked-secret" not in message  # nor the output, nor the arguments


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("pass show mail/imap", "pass"),
        ("/usr/bin/gpg -q --decrypt ~/.secret.gpg", "gpg"),
        ("  'my tool' --token", "my tool"),
        ('echo "unclosed', "echo"),
        ("", "?"),
    ],
)
def test_errors_name_the_program_and_never_its_arguments(command: str, program: str) -> None:
    assert program_of(command) == program


def test_secret_is_hidden_in_repr_and_errors(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\npassword = "p4ssw0rd-xyz"\nport = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "p4ssw0rd-xyz" not in str(caught.value)
    ok = load_settings(write(tmp_path, '[mailbox]\npassword = "p4ssw0rd-xyz"\n'))
    assert "p4ssw0rd-xyz" not in repr(ok)


def test_durations_and_windows() -> None:
    assert parse_duration("3h").total_seconds() == 3 * 3600
    assert parse_duration("4mo").days == 120
    assert parse_duration("2w").days == 14
    with pytest.raises(ValueError):
        parse_duration("3 days")
    days, start, end = parse_window("Mon-Fri 08:00-18:00")
    assert days == {0, 1, 2, 3, 4}
    assert (start.hour, end.hour) == (8, 18)
    assert parse_window("Sat-Mon 10:00-12:00")[0] == {5, 6, 0}
    with pytest.raises(ValueError):
        parse_window("Mon-Fri 18:00-08:00")


def test_settings_type_is_complete() -> None:
    assert isinstance(load_settings(None), Settings)
