"""The notify sink: the draft is mailed to the owner, "here is your thank-you to Ana, ready to send".

For owners without a ``[drafts]`` account (or steps set to ``mode =
"notify"``).  The notice goes through the send sink (SMTP, or the file
outbox), with the draft attached as ``message/rfc822`` so the owner can open,
edit and send it, and its text inline for a quick copy.

The notice's Message-ID is derived from the draft's (:func:`notice_id`), so
after a crash :meth:`NotifySink.find` asks the send sink for exactly that.
"""

from __future__ import annotations

import copy
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses

from mailflow import clock
from mailflow.errors import PermanentError
from mailflow.model import Receipt
from mailflow.sinks.base import MailSink, message_id_of
from mailflow.steps import DEFAULT_STEPS, StepRegistry
from mailflow.text import one_line

#: set by the dispatcher on a message for this sink: which step it is (removed before anything goes out)
STEP_HEADER = "X-Mailflow-Step"


def notice_id(message_id: str) -> str:
    """``<x@example.org>`` -> ``<notify.x@example.org>``: the notice of that draft."""
    return "<notify." + message_id.strip().removeprefix("<")


class NotifySink(MailSink):
    """Mails each draft to the owner through ``send``."""

    kind = "notify"

    def __init__(
        self,
        send: MailSink,
        *,
        owner_address: str,
        owner_name: str = "",
        sender: str = "",
        steps: StepRegistry = DEFAULT_STEPS,
    ) -> None:
        self.send = send
        self.steps = steps  # what each step is called in the notice
        self.owner_address = owner_address.strip()
        self.owner_name = owner_name
        self.sender = sender.strip() or self.owner_address

    def deliver(self, message: EmailMessage) -> Receipt:
        draft_id = message_id_of(message)
        if not self.owner_address:
            raise PermanentError(
                "a draft cannot be mailed to you: owner.addresses is empty",
                hint="add your address to [owner] addresses, or add a [drafts] account",
                backend="notify",
            )
        notice = build_notice(message, self.owner_address, self.owner_name, self.sender, self.steps)
        receipt = self.send.deliver(notice)
        detail = f"mailed to {self.owner_address} to review and send, as {notice_id(draft_id)}"
        return Receipt(draft_id, receipt.where, "; ".join(filter(None, [detail, receipt.detail])))

    def find(self, message_id: str) -> bool | None:
        return self.send.find(notice_id(message_id))


def build_notice(
    draft: EmailMessage,
    owner_address: str,
    owner_name: str,
    sender: str,
    steps: StepRegistry = DEFAULT_STEPS,
) -> EmailMessage:
    """The mail to the owner: what the draft is, its text, and the draft itself attached."""
    draft = copy.deepcopy(draft)
    spec = steps.get(str(draft.get(STEP_HEADER, "")).strip())
    label = spec.labels.notice if spec is not None else "mail"
    del draft[STEP_HEADER]
    who = _recipient(draft)
    subject = _header_text(str(draft.get("Subject", "")))
    notice = EmailMessage(policy=SMTP)
    notice["Message-ID"] = notice_id(message_id_of(draft))
    notice["Date"] = format_datetime(clock.now())
    notice["From"] = Address(display_name="mailflow", addr_spec=sender)
    notice["To"] = Address(display_name=_header_text(owner_name), addr_spec=owner_address)
    notice["Subject"] = _header_text(f"Ready to send: your {label} to {who}")
    notice["Auto-Submitted"] = "auto-generated"
    notice["X-Auto-Response-Suppress"] = "All"
    notice.set_content(_notice_text(label, who, subject, _body_text(draft)))
    notice.add_attachment(draft, filename=f"{label.replace(' ', '-')}.eml")
    return notice


def _notice_text(label: str, who: str, subject: str, body: str) -> str:
    return (
        f"Here is your {label} to {who}, ready to send.\n\n"
        "The attached mail is the draft: open it, make it yours, and send it from your own\n"
        "mail program (or copy the text below into a new mail to them).\n\n"
        f"Subject: {subject}\n"
        "----------------------------------------------------------------\n"
        f"{body.rstrip()}\n"
        "----------------------------------------------------------------\n"
    )


def _recipient(draft: EmailMessage) -> str:
    """``Ana Pérez <ana@example.org>`` as prose: the name, else the address."""
    found = getaddresses([str(v) for v in draft.get_all("To", [])])
    if not found:
        return "them"
    name, address = found[0]
    return _header_text(name or address) or "them"


def _body_text(draft: EmailMessage) -> str:
    part = draft.get_body(preferencelist=("plain",))
    if not isinstance(part, EmailMessage):
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _header_text(text: str) -> str:
    """One line, no quotes or brackets, no encoded-word look-alikes (the draft's values came from mail)."""
    flat = one_line(text, 160).replace("=?", "= ?")
    return " ".join(flat.replace('"', " ").replace("<", " ").replace(">", " ").split())
