"""Thirty hostile mails among thirty genuine invites in a real Dovecot: one `sync --once` with
the default budgets records every genuine invite and logs every hostile mail, in minutes, and
the next sync has nothing left to chew on.

The hostile mails are the project's own (tests/fixtures/hostile), each one a class of input
that once hung, crawled or broke understanding; all are sent as the owner's so that they are
read in full rather than passed over by the triage.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

from mailflow.demo import samples
from tests.cli_helpers import run_cli
from tests.fixtures.hostile import CRAFTED, ORGANIZER
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer
from tests.system.test_run_live import MEETING, MONDAY, write_config

#: the largest inputs (tens of MB) are the unit tests' and the fuzzer's; here they would only
#: slow the IMAP upload down
MAX_BYTES = 6 * 1024 * 1024


def _hostile_mail() -> list[tuple[str, bytes]]:
    """Thirty hostile mails spread over every class, each with a Message-ID of its own."""
    built = [(h.name, h.build()) for h in CRAFTED]
    small = [(name, raw) for name, raw in built if len(raw) <= MAX_BYTES and b"\nFrom:" in b"\n" + raw[:4096]]
    step = max(1, len(small) // 30)
    chosen = small[::step][:30]
    assert len(chosen) == 30, f"only {len(chosen)} hostile mails to choose from"
    mail = []
    for number, (name, raw) in enumerate(chosen):
        # sent as the owner's, so the triage reads each in full (a stranger's mail whose calendar part
        # the server's first look cannot see, 1,000 levels down, is passed over unread)
        raw = raw.replace(ORGANIZER.encode(), samples.OWNER[1].encode(), 1)
        raw = re.sub(rb"(?im)^Message-ID:[^\r\n]*\r?\n", b"", raw, count=1)
        mail.append((name, f"Message-ID: <hostile-{number}@test.example>\r\n".encode() + raw))
    return mail


def test_hostile_mail_never_holds_up_the_genuine_invites(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    owner = imap_user.server.new_user("owner")
    config = write_config(tmp_path, imap_user, owner, smtp_server)
    hostile = _hostile_mail()
    genuine = [
        samples.google_invite(
            MEETING + timedelta(days=n), MONDAY, uid=f"genuine-{n}@google.com", guest=samples.BEN
        )
        for n in range(30)
    ]
    interleaved = [raw for pair in zip((raw for _n, raw in hostile), genuine, strict=True) for raw in pair]
    imap_user.seed("INBOX", interleaved)

    started = time.monotonic()
    first = run_cli(["--config", str(config), "sync", "--once", "--json"])
    took = time.monotonic() - started
    assert first.exit_code == 0, first.output
    assert took < 180, f"the first sync took {took:.0f} s"

    records = json.loads(run_cli(["--config", str(config), "records", "--json"]).output)
    uids = {m["ical_uid"] for m in records["meetings"]}
    assert {f"genuine-{n}@google.com" for n in range(30)} <= uids, "a genuine invite was lost"
    logged = json.loads(run_cli(["--config", str(config), "messages", "--limit", "0", "--json"]).output)
    logged_ids = {m["message_id"] for m in logged}
    missing = [
        name
        for number, (name, _raw) in enumerate(hostile)
        if f"<hostile-{number}@test.example>" not in logged_ids
    ]
    assert missing == [], f"hostile mail neither recorded nor listed: {missing}"
    errors = run_cli(["--config", str(config), "messages", "--errors"]).output
    unreadable = [m for m in logged if m["kind"] == "unreadable"]
    assert all(f"#{m['id']}" in errors for m in unreadable), "every unreadable one is listed with --errors"

    started = time.monotonic()
    second = run_cli(["--config", str(config), "sync", "--once", "--json"])
    again = time.monotonic() - started
    assert second.exit_code == 0 and json.loads(second.output)["seen"] == 0
    assert again < 10, f"the next sync took {again:.1f} s"
    print(f"first sync {took:.1f} s ({len(unreadable)} unreadable), next sync {again:.2f} s")
