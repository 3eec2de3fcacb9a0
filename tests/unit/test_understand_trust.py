"""Whose message it is: From plus Authentication-Results from exactly the configured server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailflow.understand import understand
from mailflow.understand.trust import authserv_id, judge, passes
from tests.unit.understand_support import CONTEXT, fixture

OWNERS = frozenset({"ana@owner.example"})
GOOD = (
    "mx.owner.example; dkim=pass header.d=owner.example header.s=s1; spf=pass smtp.mailfrom=ana@owner.example"
)


def test_authserv_id_ignores_comments_and_version() -> None:
    assert authserv_id("mx.owner.example 1; dkim=pass") == "mx.owner.example"
    assert authserv_id("MX.Owner.Example; spf=pass") == "mx.owner.example"
    # a comment or an encoded-word in front is how a sender dresses up a forgery: no id at all
    assert authserv_id("(comment) MX.Owner.Example; spf=pass") == ""
    assert authserv_id("=?us-ascii?q?mx.owner.example?=; dkim=pass") == ""


def test_pass_from_the_configured_server() -> None:
    verdict = judge("ana@owner.example", OWNERS, "mx.owner.example", [GOOD])
    assert verdict.from_owner


def test_forged_header_from_another_server_is_ignored() -> None:
    forged = GOOD.replace("mx.owner.example;", "mx.evil.example;")
    assert not judge("ana@owner.example", OWNERS, "mx.owner.example", [forged]).from_owner


def test_an_id_that_only_starts_like_ours_is_not_ours() -> None:
    lookalike = GOOD.replace("mx.owner.example;", "mx.owner.example.evil.example;")
    assert not judge("ana@owner.example", OWNERS, "mx.owner.example", [lookalike]).from_owner


def test_a_pass_for_another_domain_does_not_count() -> None:
    other = "mx.owner.example; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=x@evil.example"
    assert not judge("ana@owner.example", OWNERS, "mx.owner.example", [other]).from_owner


def test_dmarc_fail_overrides_a_pass() -> None:
    mixed = "mx.owner.example; spf=pass smtp.mailfrom=owner.example; dmarc=fail header.from=owner.example"
    assert not judge("ana@owner.example", OWNERS, "mx.owner.example", [mixed]).from_owner


def test_results_only_fail_or_none() -> None:
    failing = "mx.owner.example; dkim=fail header.d=owner.example; spf=softfail smtp.mailfrom=owner.example"
    assert not judge("ana@owner.example", OWNERS, "mx.owner.example", [failing]).from_owner
    assert not judge("ana@owner.example", OWNERS, "mx.owner.example", []).from_owner


def test_without_authserv_id_the_from_address_decides() -> None:
    assert judge("ana@owner.example", OWNERS, "", []).from_owner
    assert not judge("jo@contact.example", OWNERS, "", [GOOD]).from_owner


def test_subdomain_alignment_is_relaxed() -> None:
    assert passes("mx; dkim=pass header.d=mail.owner.example", "owner.example") == (True, False)


@pytest.mark.parametrize("text", ["", ";;;", "mx.owner.example; dkim=", "((((", "mx; dkim=pass (((unclosed"])
def test_garbage_headers_do_not_raise(text: str) -> None:
    judge("ana@owner.example", OWNERS, "mx.owner.example", [text])


def test_forged_results_in_a_real_message() -> None:
    result = understand(fixture("reply_owner_forged.eml"), CONTEXT)
    assert not result.from_owner and not result.trusted
    # the same message, trusted by From alone when no authserv_id is configured
    relaxed = understand(fixture("reply_owner_forged.eml"), replace(CONTEXT, authserv_id=""))
    assert relaxed.from_owner and relaxed.kind == "owner_notes"


def test_genuine_owner_message_with_an_extra_forged_failure_still_counts() -> None:
    result = understand(fixture("reply_owner_notes.eml"), CONTEXT)
    assert result.from_owner  # the mx.evil.example dkim=fail header is not ours to read
