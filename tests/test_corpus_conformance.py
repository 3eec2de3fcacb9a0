"""Real invites from public projects (../shared/corpus, read only): none raises, each is understood.

Every file with a VEVENT must yield a start in the right zone, an organizer,
or a stated reason.  Files listed in EXPECTED were worked out by hand from
their TZID, VTIMEZONE and the message date; other files (a held-out set may
be added) get the general checks only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow.understand import Context, understand

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FILES = sorted(p for p in (CORPUS / "files").glob("*") if p.is_file()) if (CORPUS / "files").is_dir() else []
CONTEXT = Context(owner_zone=ZoneInfo("Europe/Berlin"))

pytestmark = pytest.mark.skipif(not FILES, reason=f"no corpus at {CORPUS} (it is optional)")


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# name -> (kind, UTC start or all-day date or None, zone)
EXPECTED: dict[str, tuple[str, datetime | date | None, str]] = {
    # X-WR-TIMEZONE US/Pacific: floating 01:20:30 on 28 Oct 2002 is PST (-08:00)
    "apple_ical1_request_mixed_floating_utc_date_only_nodeical.ics": ("invite", z("2002-10-28T09:20:30"), "America/Los_Angeles"),
    "aspnetemail_booking_publish_mixedcase_content_type_thunderbird.eml": ("invite", z("2016-09-01T06:25"), "UTC"),
    "blackberry_bis_allday_request_icalendar.ics": ("update", date(2012, 8, 14), ""),
    "bom_empty_calendar_icalendar.ics": ("ignored", None, ""),
    # floating times in a calendar whose only VTIMEZONE is Europe/Berlin (CEST)
    "deutsche_bahn_ics_as_text_plain_qp_duplicate_dtstamp_calmailproc.eml": ("invite", z("2024-06-20T09:18"), "Europe/Berlin"),
    "deutsche_bahn_iso8601_dashed_datetimes_calmailproc.eml": ("invite", z("2023-07-01T10:57"), "Europe/Berlin"),
    "emclient_vtimezone_year_0001_windows_tzid_nodeical.ics": ("invite", z("2024-06-01T08:00"), "Europe/Berlin"),
    # next occurrence after DTSTAMP 25 May 2020: 28 May, moved by an override to 29 May
    "exchange2010_allday_biweekly_gmt_standard_time_recurring.ics": ("invite", date(2020, 5, 29), ""),
    "exchange2010_pacific_standard_time_icalendar.ics": ("invite", z("2017-02-24T20:00"), "America/Los_Angeles"),
    "exchange2010_romance_standard_time_nylas.ics": ("invite", z("2015-04-01T14:00"), "Europe/Paris"),
    "exchange2010_utc0700_bangkok_tzid_escaped_commas_nodeical.ics": ("invite", z("2019-04-30T02:00"), "Asia/Bangkok"),
    "exchange2010_via_evolution_w_europe_tz_mismatch_xlicerror_recurring.ics": ("update", z("2020-04-26T12:00"), "Europe/Berlin"),
    # a TZID nobody knows, defined inline as +01:00/+02:00: July is +02:00
    "exchange_cdo_custom_tzid_daily_standup_icalendar.ics": ("invite", z("2015-07-03T08:00"), "GMT +0100 (Standard) / GMT +0200 (Daylight)"),
    "exchange_de_cancel_abgesagt_calmailproc.eml": ("cancel", z("2025-03-10T13:00"), "Europe/Berlin"),
    "exchange_de_cancel_single_occurrence_recurrence_id_calmailproc.eml": ("cancel", z("2025-03-27T14:00"), "Europe/Berlin"),
    "exchange_de_recurrence_instance_update_seq7_calmailproc.eml": ("update", z("2025-05-15T12:00"), "Europe/Berlin"),
    "exchange_de_reply_declined_with_comment_calmailproc.eml": ("reply", z("2025-03-18T08:15"), "Europe/Berlin"),
    "exchange_de_weekly_recurring_request_calmailproc.eml": ("invite", z("2025-03-13T14:00"), "Europe/Berlin"),
    "exchange_en_cancel_same_sequence_calmailproc.eml": ("cancel", z("2025-04-18T06:00"), "Europe/Berlin"),
    "google_allday_weekly_recurring_until_date_nylas.ics": ("invite", date(2014, 8, 17), ""),
    "google_bogus_sequence_number_nylas.ics": ("update", z("2015-04-01T14:00"), "UTC"),
    "google_cancel_nylas.ics": ("cancel", z("2015-04-01T14:00"), "UTC"),
    "google_meet_invite_swedish_qp_thunderbird.eml": ("invite", z("2021-03-22T09:30"), "UTC"),
    "google_multiple_summaries_french_nylas.ics": ("invite", z("2015-03-19T23:30"), "UTC"),
    "google_publish_empty_exdate_icalendar.ics": ("invite", date(2008, 3, 3), ""),
    # monthly on the last Friday; after DTSTAMP 18 Dec 2021 the next is 28 Jan 2022 (CET)
    "google_recurrence_id_moved_instance_recurring.ics": ("update", z("2022-01-28T20:30"), "Europe/Berlin"),
    "handwritten_cancel_recurring_missing_dtstart_thunderbird.eml": ("cancel", None, ""),
    "handwritten_request_qp_inconsistent_escaping_thunderbird.eml": ("invite", z("2022-03-16T11:00"), "UTC"),
    "horde_kronolith_request_text_calendar_plus_application_ics_calmailproc.eml": ("invite", z("2025-03-20T00:00"), "UTC"),
    "ical4j_publish_qp_attachment_helsinki_thunderbird.eml": ("update", z("2021-11-29T08:55"), "Europe/Helsinki"),
    "icalendar_ruby_eagx_ticket_duplicate_url_date_mismatch_calmailproc.eml": ("invite", date(2020, 6, 12), ""),
    "icloud_allday_event_nylas.ics": ("invite", date(2015, 3, 16), ""),
    "icloud_multiple_vevents_nylas.ics": ("invite", date(2015, 3, 16), ""),
    "iphone_via_exchange_mojibake_summary_nylas.ics": ("invite", z("2014-12-27T15:00"), "Europe/Paris"),
    # TZID "FLE" with no VTIMEZONE: FLE Standard Time, still summer time on 26 Oct (+03:00)
    "lotus_notes_style_undefined_tzid_text_plain_ics_thunderbird.eml": ("invite", z("2021-10-26T06:00"), "Europe/Kyiv"),
    "meetup_publish_duplicate_summary_no_dtend_nylas.ics": ("invite", z("2011-04-20T00:00"), "America/Los_Angeles"),
    "nextcloud_sabredav_thunderbird_weekly_exdate_recurring.ics": ("update", z("2019-03-03T23:30"), "Europe/Berlin"),
    "outlook2010_reply_accepted_to_zimbra_invite_zimbra.eml": ("reply", z("2012-04-24T23:00"), "America/Los_Angeles"),
    "outlook365_fle_standard_time_empty_body_thunderbird.eml": ("invite", z("2021-11-27T07:00"), "Europe/Kyiv"),
    "outlook_com_w_europe_standard_time_request_nextcloud.eml": ("invite", z("2025-02-26T07:00"), "Europe/Berlin"),
    "outlook_export_tzid_space_1_french_nodeical.ics": ("invite", z("2023-12-15T14:00"), "Europe/Paris"),
    "outlook_non_ascii_tzid_brasilia_icalendar.ics": ("invite", z("2017-05-11T16:30"), "America/Sao_Paulo"),
    "podio_request_x_wr_timezone_tab_folding_icalendar.ics": ("invite", z("2022-02-22T18:30"), "Europe/Berlin"),
    "sixt_reservation_freebusy_plus_vevent_malformed_organizer_calmailproc.eml": ("invite", z("2017-07-31T07:00"), "UTC"),
    # floating, no zone anywhere: the owner's (Europe/Berlin, CET in January)
    "thunderbird_latin1_encoded.ics": ("invite", z("2019-01-01T14:00"), "Europe/Berlin"),
    "thunderbird_lightning_de_einladung_request_calmailproc.eml": ("invite", z("2025-03-19T09:00"), "Europe/Berlin"),
    "trenitalia_octet_stream_no_prodid_malformed_organizer_calmailproc.eml": ("invite", z("2023-09-29T14:50"), "Europe/Berlin"),
    # a bounce wrapping an invite is not a new invite
    "zimbra_bounce_report_with_invite_as_message_rfc822_zimbra.eml": ("ignored", None, ""),
    "zimbra_webclient_request_zimbra.eml": ("invite", z("2012-04-24T23:00"), "America/Los_Angeles"),
}  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_is_understood(path: Path) -> None:
    raw = path.read_bytes()
    result = understand(raw, CONTEXT)
    assert result.kind != "unreadable", result.error
    if b"BEGIN:VEVENT" not in raw.upper() or (result.kind == "ignored" and result.reasons):
        return
    if result.start is not None:
        assert result.start.utcoffset() is not None and result.timezone, path.name
        return
    assert result.date is not None or result.organizer is not None or result.reasons, path.name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_known_files_match_hand_computed_starts(name: str) -> None:
    path = CORPUS / "files" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in this copy of the corpus")
    kind, start, zone = EXPECTED[name]
    result = understand(path.read_bytes(), CONTEXT)
    assert result.kind == kind, result.reasons
    if isinstance(start, datetime):
        assert result.start is not None and result.start.astimezone(UTC) == start
        assert result.timezone in {zone, "Europe/Kiev"} if zone == "Europe/Kyiv" else result.timezone == zone
    elif isinstance(start, date):
        assert (result.all_day, result.date) == (True, start)
    else:
        assert result.start is None and result.reasons


def test_the_manifest_lists_every_file() -> None:
    manifest = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    listed = {line.split("\t", 1)[0] for line in manifest if line.strip()}
    assert {p.name for p in FILES} <= listed
