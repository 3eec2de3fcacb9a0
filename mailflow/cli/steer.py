"""The commands that steer mailflow: skip, retry, pause, resume, confirm, note, meeting, forget."""

from __future__ import annotations

from pathlib import Path

import typer

from mailflow import clock
from mailflow.cli.app import app, handles_errors, out, print_json, settings
from mailflow.cli.common import contact_by_ref, contact_label, meeting_by_ref, open_store
from mailflow.engine.health import PAUSED as PAUSED_KEY
from mailflow.errors import UsageError
from mailflow.store.rows import StepRow
from mailflow.store.store import StoreTx
from mailflow.text import one_line

meeting_app = typer.Typer(help="Correct what mailflow inferred about a meeting.", no_args_is_help=True)
app.add_typer(meeting_app, name="meeting")


def _step(tx: StoreTx, ref: str) -> StepRow:
    if not ref.strip().isdigit():
        raise UsageError(f'"{ref}" is not a step id (a number, as `mailflow show` and `upcoming` show)')
    step = tx.get_step(int(ref))
    if step is None:
        raise UsageError(
            f"there is no step {ref}", hint="`mailflow upcoming` and `mailflow show MEETING` list them"
        )
    return step


def _done(json_: bool, message: str, **data: object) -> None:
    if json_:
        print_json({"ok": True, "message": message, **data})
    else:
        out.print(message, markup=False)  # names from mail may hold "[...]": printed as they are


JSON = typer.Option(False, "--json", help="Print JSON.")


MAIL = typer.Option(False, "--mail", help="ID is a mail to you (an acknowledgement), as `status` lists it.")


@app.command()
@handles_errors
def skip(
    step: str = typer.Argument(..., metavar="ID", help="The step id (or, with --mail, the mail's)."),
    mail: bool = MAIL,
    json_: bool = JSON,
) -> None:
    """Never send this step (pending, failed or uncertain), or with --mail this mail to you."""
    if mail:
        _owner_mail(step, json_, retry=False)
        return
    with open_store() as store, store.transaction() as tx:
        row = _step(tx, step)
        if not tx.skip_step(row.id, "skipped by you"):
            raise UsageError(
                f"step {row.id} ({row.step}) is {row.state}; only pending, failed or uncertain steps can be skipped"
            )
    _done(json_, f"step {row.id} ({row.step}) will not go out", step_id=row.id)


@app.command()
@handles_errors
def retry(
    step: str = typer.Argument(..., metavar="ID", help="The step id (or, with --mail, the mail's)."),
    mail: bool = MAIL,
    json_: bool = JSON,
) -> None:
    """Send a failed or uncertain step (or with --mail, mail to you) again, now; an uncertain one may arrive twice."""
    if mail:
        _owner_mail(step, json_, retry=True)
        return
    with open_store() as store, store.transaction() as tx:
        row = _step(tx, step)
        if not tx.retry_step(row.id, clock.now()):
            raise UsageError(
                f"step {row.id} ({row.step}) is {row.state}; only failed or uncertain steps can be retried"
            )
    _done(json_, f"step {row.id} ({row.step}) goes out again at the next cycle", step_id=row.id)


def _owner_mail(ref: str, json_: bool, *, retry: bool) -> None:
    if not ref.strip().isdigit():
        raise UsageError(f'"{one_line(ref, 40)}" is not a mail id; `mailflow status` lists them')
    with open_store() as store, store.transaction() as tx:
        row = tx.get_owner_mail(int(ref))
        if row is None:
            raise UsageError(
                f"there is no mail {int(ref)} to you; `mailflow status` lists the ones that need you"
            )
        moved = tx.retry_owner_mail(row.id) if retry else tx.skip_owner_mail(row.id, "skipped by you")
        if not moved:
            allowed = "failed or uncertain" if retry else "pending, failed or uncertain"
            raise UsageError(
                f"mail {row.id} ({row.kind}) is {row.state}; only {allowed} ones can be {'retried' if retry else 'skipped'}"
            )
    verb = "goes out again at the next cycle" if retry else "will not go out"
    _done(json_, f"mail {row.id} ({row.kind}) {verb}", mail_id=row.id)


@app.command()
@handles_errors
def pause(
    meeting: str | None = typer.Argument(None, metavar="[MEETING]", help="One meeting; none: everything."),
    json_: bool = JSON,
) -> None:
    """Hold every step (of one meeting, or all); nothing is sent until `resume`."""
    _pause(meeting, True, json_)


@app.command()
@handles_errors
def resume(
    meeting: str | None = typer.Argument(None, metavar="[MEETING]", help="One meeting; none: everything."),
    json_: bool = JSON,
) -> None:
    """Let held steps go out again (late ones may be skipped, see [sending] max_lateness)."""
    _pause(meeting, False, json_)


def _pause(ref: str | None, paused: bool, json_: bool) -> None:
    verb = "paused" if paused else "resumed"
    with open_store() as store, store.transaction() as tx:
        if ref is None:
            if tx.owner_id != 1:  # the pause is the daemon's, and the daemon works for owner 1
                raise UsageError(
                    f"the whole-daemon pause is owner 1's; pause one of owner {tx.owner_id}'s meetings instead"
                )
            tx.kv_set(PAUSED_KEY, "1" if paused else None)
            _done(json_, f"everything {verb}", paused=paused)
            return
        row = meeting_by_ref(tx, ref)
        tx.set_paused(row.id, paused)
    _done(json_, f"meeting {row.id} {verb}", meeting_id=row.id, paused=paused)


@app.command()
@handles_errors
def confirm(meeting: str = typer.Argument(..., metavar="MEETING"), json_: bool = JSON) -> None:
    """Vouch for a meeting that someone else sent: mail may now go to its contact."""
    with open_store() as store, store.transaction() as tx:
        row = meeting_by_ref(tx, meeting)
        tx.set_confirmed(row.id, True)
        tx.schedule_meeting(row.id)  # a stranger's invite was pending; a plain request stays requested
        tx.clear_doubts(row.id)  # the owner read the invite and vouches for it as it was read
    _done(json_, f"meeting {row.id} confirmed: its steps to the contact will be planned", meeting_id=row.id)


@app.command()
@handles_errors
def note(
    meeting: str = typer.Argument(..., metavar="MEETING"),
    text: str = typer.Argument(..., help="What you learned (quote it in the shell)."),
    json_: bool = JSON,
) -> None:
    """Add notes to a meeting, as if you had replied to the summary prompt."""
    if not text.strip():
        raise UsageError("the note is empty")
    with open_store() as store, store.transaction() as tx:
        row = meeting_by_ref(tx, meeting)
        tx.add_note(row.id, text.strip(), source="cli")
    _done(json_, f"note added to meeting {row.id}", meeting_id=row.id)


@meeting_app.command("role")
@handles_errors
def meeting_role(
    meeting: str = typer.Argument(..., metavar="MEETING"),
    role: str = typer.Argument(..., metavar="seeker|adviser", help="Your side of the table."),
    json_: bool = JSON,
) -> None:
    """Say whether you are the one asking for advice (seeker) or giving it (adviser)."""
    if role not in ("seeker", "adviser"):
        raise UsageError(f'the role is "seeker" or "adviser", got "{role}"')
    with open_store() as store, store.transaction() as tx:
        row = meeting_by_ref(tx, meeting)
        tx.set_role(row.id, role, by_owner=True)
    _done(json_, f"meeting {row.id}: you are the {role}", meeting_id=row.id, role=role)


@meeting_app.command("counterpart")
@handles_errors
def meeting_counterpart(
    meeting: str = typer.Argument(..., metavar="MEETING"),
    address: str = typer.Argument(..., metavar="ADDRESS", help="The person the meeting is with."),
    json_: bool = JSON,
) -> None:
    """Choose who a meeting with several attendees is with."""
    if "@" not in address or any(c in address for c in "\r\n<>, "):
        raise UsageError(f'"{address}" is not an e-mail address')
    with open_store() as store, store.transaction() as tx:
        row = meeting_by_ref(tx, meeting)
        contact = tx.upsert_contact(address)
        tx.set_counterpart(row.id, contact.id)
    _done(
        json_,
        f"meeting {row.id} is with {contact_label(contact)}",
        meeting_id=row.id,
        counterpart=contact.address,
    )


@app.command()
@handles_errors
def forget(
    contact: str = typer.Argument(..., metavar="CONTACT", help="c<id> or an e-mail address."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_: bool = JSON,
) -> None:
    """Delete a person's records and saved files (mail in the mailbox is left alone)."""
    with open_store() as store:
        with store.read() as tx:
            person = contact_by_ref(tx, contact)
        label = one_line(contact_label(person))
        if not yes and not typer.confirm(f"Forget {label} and every meeting with them?"):
            raise typer.Exit(1)
        with store.transaction() as tx:
            notes = len(tx.list_contact_notes(person.id))
            paths = tx.forget_contact(person.id)
    removed = _remove_files(paths)
    _done(
        json_,
        f"forgot {label} ({notes} note(s) about them and {removed} file(s) deleted)",
        notes_deleted=notes,
        files_deleted=removed,
    )


def _remove_files(paths: list[str]) -> int:
    base = settings().data_folder().resolve()
    removed = 0
    for relative in paths:
        target = (base / relative).resolve()
        if base not in target.parents:  # never outside the data folder
            continue
        if target.is_file():
            target.unlink()
            removed += 1
        _prune(target.parent, base)
    return removed


def _prune(folder: Path, base: Path) -> None:
    while folder != base and base in folder.parents and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
