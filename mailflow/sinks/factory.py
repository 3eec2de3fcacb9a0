"""Which sink each step goes to, built from the settings.

    send    [smtp] -> SmtpSink, else the file outbox ([outbox] folder)
    draft   [drafts] -> ImapDraftsSink, else notify
    notify  NotifySink: the draft mailed to the owner through "send"

Mail to the owner (homework brief, notes prompt, take-action reminder, and
every notify notice) goes through "send"; a draft-mode owner step goes to
Drafts only when there is a ``[drafts]`` account.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailflow.config import ImapAccount, Settings
from mailflow.errors import ConfigError
from mailflow.sinks.base import MailSink
from mailflow.sinks.imap_drafts import ImapDraftsSink
from mailflow.sinks.imap_folder import ImapFolder
from mailflow.sinks.notify import NotifySink
from mailflow.sinks.outbox import OutboxSink
from mailflow.sinks.smtp import SmtpSink
from mailflow.steps import DEFAULT_STEPS, Audience, StepRegistry

#: submission servers that file a copy in Sent themselves: mailflow only looks there
SELF_FILING_HOSTS = ("smtp.gmail.com", "smtp.googlemail.com")


@dataclass
class Sinks:
    """The sinks of one configuration, by mode."""

    send: MailSink
    draft: MailSink
    notify: MailSink
    steps: StepRegistry = DEFAULT_STEPS  # who reads each step

    def for_step(self, step: str, mode: str) -> MailSink:
        """The sink for ``step`` in ``mode`` ("send", "draft" or "notify")."""
        return self.for_audience(self.steps.audience(step), mode)

    def for_audience(self, audience: Audience | None, mode: str) -> MailSink:
        """The sink for mail to ``audience`` in ``mode``: mail to the owner never becomes a notice."""
        if audience == "owner":
            return self.draft if mode == "draft" and self.draft.kind == "drafts" else self.send
        return {"send": self.send, "draft": self.draft, "notify": self.notify}.get(mode, self.notify)

    def distinct(self) -> list[MailSink]:
        """Each sink once (``draft`` may be the notify sink)."""
        seen: list[MailSink] = []
        for sink in (self.send, self.draft, self.notify):
            if all(sink is not other for other in seen):
                seen.append(sink)
        return seen

    def close(self) -> None:
        for sink in self.distinct():
            sink.close()


def build_sinks(settings: Settings) -> Sinks:
    """The sinks for ``settings`` (ConfigError for a server section that cannot work)."""
    send = build_send_sink(settings)
    owner = settings.owner.addresses[0] if settings.owner.addresses else ""
    sender = (settings.smtp.from_address if settings.smtp else "") or owner
    notify = NotifySink(
        send, owner_address=owner, owner_name=settings.owner.name, sender=sender, steps=settings.steps
    )
    draft: MailSink = ImapDraftsSink(settings.drafts) if settings.drafts is not None else notify
    return Sinks(send=send, draft=draft, notify=notify, steps=settings.steps)


def build_send_sink(settings: Settings) -> MailSink:
    smtp = settings.smtp
    if smtp is None:
        return OutboxSink(settings.outbox_folder())
    account = sent_copy_account(settings)
    if account is None:
        return SmtpSink(smtp)
    section, imap = account
    copies = ImapFolder(imap, section, "\\Sent")
    files_itself = smtp.sent_copy == "auto" and smtp.host.strip().lower() in SELF_FILING_HOSTS
    return SmtpSink(smtp, copies=copies, append_copies=not files_itself)


def sent_copy_account(settings: Settings) -> tuple[str, ImapAccount] | None:
    """The IMAP account whose Sent folder holds copies: ``[smtp] sent_copy``.

    "mailbox" or "drafts" name the account (ConfigError when it is not an
    IMAP account); "auto" picks the one whose username is the SMTP username
    ([drafts] first: it is the owner's own), else None; "none": None.
    """
    smtp = settings.smtp
    if smtp is None or smtp.sent_copy == "none":
        return None
    accounts: dict[str, ImapAccount] = {}
    if settings.drafts is not None:
        accounts["drafts"] = settings.drafts
    if settings.mailbox.kind == "imap":
        accounts["mailbox"] = settings.mailbox
    if smtp.sent_copy != "auto":
        found = accounts.get(smtp.sent_copy)
        if found is None:
            raise ConfigError(
                f'smtp.sent_copy: "{smtp.sent_copy}" names no IMAP account '
                f'(there is no [{smtp.sent_copy}] IMAP section); set it to "none" or "auto"'
            )
        return smtp.sent_copy, found
    user = smtp.username.strip().lower()
    for section, account in accounts.items():
        if user and account.username.strip().lower() == user:
            return section, account
    return None
