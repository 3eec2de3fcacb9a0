"""Whether a message really comes from the owner.

A message is the owner's when From is one of the owner's addresses and, when
``[trust] authserv_id`` is set, an ``Authentication-Results`` header written
by exactly that server (RFC 8601 authserv-id) shows dkim, spf or dmarc
``pass`` for the From domain, and no dmarc ``fail``.  Headers from any other
server are ignored: anyone can write them.  Compliant receiving servers
delete incoming Authentication-Results that carry their own id (RFC 8601
section 5), which is what makes the configured one trustworthy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_RESULT = re.compile(r"\b(dkim|spf|dmarc)\s*=\s*([a-z]+)\b([^;]*)", re.IGNORECASE)
_PROPERTY = re.compile(
    r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom|smtp\.helo)\s*=\s*([^\s;()]+)", re.I
)


@dataclass(frozen=True)
class Verdict:
    from_owner: bool
    reason: str


def _strip_comments(text: str) -> str:
    """``text`` with each (nested) comment made one blank, unmatched parentheses kept.

    One pass with a stack: removing the innermost comments again and again is quadratic.
    """
    kept: list[str] = []
    opened: list[int] = []  # where in ``kept`` each unmatched "(" stands
    for char in text:
        if char == "(":
            opened.append(len(kept))
            kept.append(char)
        elif char == ")" and opened:
            del kept[opened.pop() :]
            kept.append(" ")
        else:
            kept.append(char)
    return "".join(kept)


_LEADING_ID = re.compile(r"\s*([A-Za-z0-9.\-_]+)\s*(?:[;\s]|$)")


def authserv_id(value: str) -> str:
    """The authserv-id of one raw Authentication-Results value: its first token, exactly.

    A value that starts with a comment or an encoded-word has no id we accept:
    the receiving server writes its own id plainly, and strips only headers that
    carry it plainly, so anything dressed up is a sender's forgery.
    """
    match = _LEADING_ID.match(value)
    return match.group(1).lower() if match else ""


def _domain(text: str) -> str:
    return text.strip().strip("<>\"'").rsplit("@", 1)[-1].lower().rstrip(".")


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain or a parent/child of it."""
    return bool(domain) and (
        domain == from_domain or from_domain.endswith("." + domain) or domain.endswith("." + from_domain)
    )


def passes(value: str, from_domain: str) -> tuple[bool, bool]:
    """(some method passed for the From domain, dmarc failed) in one header value."""
    passed = failed = False
    stripped = _strip_comments(value)
    body = stripped.split(";", 1)[1] if ";" in stripped else ""
    for method, result, rest in _RESULT.findall(body):
        method, result = method.lower(), result.lower()
        domains = [_domain(v) for _k, v in _PROPERTY.findall(rest)]
        aligned = not domains or any(_aligned(d, from_domain) for d in domains)
        if method == "dmarc" and result == "fail" and aligned:
            failed = True
        if result == "pass" and aligned:
            passed = True
    return passed, failed


def judge(
    from_address: str, owner_addresses: frozenset[str], server_id: str, results: Iterable[str]
) -> Verdict:
    """Whether From is the owner, authenticated by ``server_id`` when one is configured."""
    if not from_address or from_address not in owner_addresses:
        return Verdict(False, "")
    if not server_id:
        return Verdict(True, "from the owner (no [trust] authserv_id configured: From alone decides)")
    from_domain = _domain(from_address)
    # only the topmost header with our id: our server prepends its own above whatever the sender wrote
    ours = [value for value in results if authserv_id(value) == server_id.lower()][:1]
    if not ours:
        return Verdict(False, f"From is the owner's address but no Authentication-Results from {server_id}")
    outcomes = [passes(value, from_domain) for value in ours]
    if any(failed for _passed, failed in outcomes):
        return Verdict(False, f"From is the owner's address but {server_id} reports dmarc=fail")
    if any(passed for passed, _failed in outcomes):
        return Verdict(True, f"from the owner: {server_id} reports a pass for {from_domain}")
    return Verdict(False, f"From is the owner's address but {server_id} reports no pass for {from_domain}")
