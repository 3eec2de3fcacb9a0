"""Plain meeting requests: confidence with reasons, proposed times resolved, none invented."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.understand import request_phrases as rp
from mailflow.understand import understand
from mailflow.understand.requests import score
from mailflow.understand.when import loose_date, proposed_times
from tests.unit.understand_support import CONTEXT, read

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 3 March 2025, 09:00 in Berlin
WRITTEN = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(text: str) -> list[str]:
    return [t.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for t in proposed_times(text, WRITTEN, BERLIN)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Would Tuesday at 3pm work?", ["2025-03-04 14:00"]),
        ("How about Monday at 10:00?", ["2025-03-10 09:00"]),  # Monday written on a Monday: next week
        ("next Friday 9:30am", ["2025-03-07 08:30"]),
        ("tomorrow at noon", ["2025-03-04 11:00"]),
        ("March 12 at 2pm ET", ["2025-03-12 18:00"]),
        ("on the 12th of March, 14:00", ["2025-03-12 13:00"]),
        ("2025-04-01 16:30", ["2025-04-01 14:30"]),
        ("Dienstag um 14 Uhr", ["2025-03-04 13:00"]),
        ("am 4.3. um 10:15", ["2025-03-04 09:15"]),
        ("jeudi 13 mars à 10h30", ["2025-03-13 09:30"]),
        ("Thursday between 2 and 4pm", ["2025-03-06 13:00"]),
        ("Tuesday 2-3pm PT", ["2025-03-04 22:00"]),
        ("Tuesday at 3pm or Thursday at 9am", ["2025-03-04 14:00", "2025-03-06 08:00"]),
        # never invented: a time without a day, a day without a time, a past date, a greeting
        ("Could we talk at 3pm?", []),
        ("Are you free on Tuesday?", []),
        ("We met on March 1 at 10am.", []),
        ("Guten Morgen! Um 14 Uhr habe ich einen Termin.", []),
        ("Version 1.2 costs 30 dollars", []),
    ],
)
def test_proposed_times(text: str, expected: list[str]) -> None:
    assert at(text) == expected


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=300))
def test_no_digits_no_days_means_no_times(text: str) -> None:
    """Without a digit there is no clock time (except noon), so no time is ever invented."""
    for found in proposed_times(text, WRITTEN, BERLIN):
        assert found.hour == 12 and found.minute == 0


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=500))
def test_proposed_times_never_raise_and_are_in_the_future(text: str) -> None:
    for found in proposed_times(text, WRITTEN, BERLIN):
        assert found > WRITTEN and found.tzinfo is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, Mar 5, 2025 at 4:12 PM", datetime(2025, 3, 5, 16, 12, tzinfo=BERLIN)),
        ("Mittwoch, 5. März 2025 10:02", datetime(2025, 3, 5, 10, 2, tzinfo=BERLIN)),
        ("6 mars 2025 à 11:20:05 UTC+1", datetime(2025, 3, 6, 11, 20, tzinfo=BERLIN)),
        ("yesterday", None),
    ],
)
def test_loose_date(text: str, expected: datetime | None) -> None:
    assert loose_date(text, BERLIN) == expected


def test_score_names_its_reasons() -> None:
    result = score("Would you have 30 minutes for an informational interview about your career?")
    assert result.confidence >= 0.6
    assert any("informational interview" in r for r in result.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "Hi, are you available to speak now?",
        "URGENT: please call me asap about the invoice payment",
        "Would you have 15 minutes for a quick call? Our platform doubles your leads. Book a demo. Unsubscribe here.",
        "Let's grab coffee sometime!",
    ],
)
def test_spam_like_or_contextless_mail_stays_below_threshold(text: str) -> None:
    assert score(text).confidence < CONTEXT.request_threshold


@pytest.mark.parametrize(
    ("name", "times"),
    [
        # written Mon 3 Mar 2025 08:30 -05:00; Tuesday 3pm Berlin; Thursday 6 March 10:00 ET (-05:00)
        ("request_direct.eml", ["2025-03-04T14:00:00+00:00", "2025-03-06T15:00:00+00:00"]),
        # forwarded text written Wed 5 Mar 16:12: "tomorrow at 9:30am", "Monday, March 10 at 2pm"
        ("fwd_gmail_request.eml", ["2025-03-06T08:30:00+00:00", "2025-03-10T13:00:00+00:00"]),
        # written Wed 5 Mar: "Dienstag um 14 Uhr" is Tuesday 11 March
        ("fwd_outlook_request_de.eml", ["2025-03-11T13:00:00+00:00"]),
        ("fwd_apple_request_fr.eml", ["2025-03-13T09:30:00+00:00"]),
        # "Friday, March 14 at 4pm PT": PDT began on 9 March (-07:00)
        ("fwd_iphone_request.eml", ["2025-03-14T23:00:00+00:00"]),
        ("fwd_rfc822_request.eml", ["2025-03-12T10:00:00+00:00", "2025-03-13T14:00:00+00:00"]),
        ("fwd_thunderbird_request.eml", []),
    ],
)
def test_request_fixtures(name: str, times: list[str]) -> None:
    result = read(name)
    assert result.kind == "request", result.reasons
    assert result.confidence >= CONTEXT.request_threshold
    assert [t.astimezone(UTC).isoformat() for t in result.proposed_times] == times


def test_direct_request_from_a_stranger_is_untrusted_with_its_link() -> None:
    result = read("request_direct.eml")
    assert (result.from_owner, result.trusted, result.forwarded) == (False, False, False)
    assert result.counterpart is not None and result.counterpart.name == "Lee, Jordan"
    assert result.meeting_url == "https://us06web.zoom.us/j/81234567890"


@pytest.mark.parametrize("name", ["spam_available_now.eml", "spam_sales_pitch.eml", "newsletter.eml"])
def test_spam_fixtures_are_ignored_with_their_confidence(name: str) -> None:
    result = read(name)
    assert result.kind == "ignored"
    assert result.confidence < CONTEXT.request_threshold
    assert any("not a meeting request" in r for r in result.reasons)


def test_threshold_comes_from_the_context() -> None:
    """A contact's plain mail is a request at its confidence and not a hair above it."""
    mail = (
        b"From: jo@contact.example\nSubject: Back in Berlin\nDate: Mon, 3 Mar 2025 09:00:00 +0100\n\n"
        b"Hi Ana, Sam from the design meetup here. Let's grab a coffee once I am back in Berlin, I have two\n"
        b"offers on the table and cannot decide."
    )
    confidence = understand(mail, CONTEXT).confidence
    assert 0 < confidence < 1
    assert understand(mail, replace(CONTEXT, request_threshold=confidence)).kind == "request"
    strict = replace(CONTEXT, request_threshold=round(confidence + 0.01, 2))
    assert understand(mail, strict).kind == "ignored"


def test_request_without_any_date_proposes_nothing() -> None:
    mail = b"From: jo@contact.example\nSubject: Coffee?\n\nWould you have 30 minutes for a coffee chat tomorrow at 10am?"
    result = understand(mail, CONTEXT)
    assert result.kind == "request" and result.proposed_times == ()
    assert any("no date" in r for r in result.reasons)


# -- the phrase table (issue #26, item 5) ------------------------------------------------------

THRESHOLD = CONTEXT.request_threshold

# (label, language, text): one sentence of each phrase family in each language
FAMILIES = [
    (rp.INFORMATIONAL, "en", "Could I ask you for an informational interview?"),
    (rp.INFORMATIONAL, "fr", "Je cherche un entretien informatif avec une PM."),
    (rp.INFORMATIONAL, "de", "Hätten Sie Interesse an einem Informationsgespräch?"),
    (rp.INFORMATIONAL, "es", "Busco una entrevista informativa con alguien de producto."),
    (rp.TIME, "en", "Would you have half an hour sometime next week?"),
    (rp.TIME, "fr", "Auriez-vous une vingtaine de minutes à m'accorder ?"),
    (rp.TIME, "de", "Hätten Sie in den nächsten Wochen Zeit für ein Telefonat?"),
    (rp.TIME, "es", "¿Tendrías tiempo para un café?"),
    (rp.BRAIN, "en", "I'd love to pick your brain about pricing."),
    (rp.BRAIN, "fr", "J'aimerais vous poser quelques questions sur votre métier."),
    (rp.BRAIN, "de", "Ich hätte ein paar Fragen zu Ihrem Wechsel."),
    (rp.BRAIN, "es", "Te invito a un café y te robo media hora."),
    (rp.SUGGESTS, "en", "Could we set up a short call?"),
    (rp.SUGGESTS, "en", "Let's grab a coffee once I'm back."),
    (rp.SUGGESTS, "en", "Happy to chat whenever you like."),
    (rp.SUGGESTS, "fr", "Pourrions-nous prendre un café ensemble ?"),
    (rp.SUGGESTS, "fr", "Prenons un café pendant que je suis là !"),
    (rp.SUGGESTS, "de", "Lass uns doch mal einen Kaffee trinken gehen."),
    (rp.SUGGESTS, "de", "Könnten wir uns mal treffen?"),
    (rp.SUGGESTS, "es", "¿Podríamos hablar por videollamada?"),
    (rp.SUGGESTS, "es", "¡Tomemos un café!"),
    (rp.QUESTION, "en", "Are you around on Thursday for a call?"),
    (rp.QUESTION, "fr", "Tu serais dispo pour un petit appel ?"),
    (rp.QUESTION, "de", "Hättest du morgen Zeit für einen kurzen Call?"),
    (rp.QUESTION, "es", "¿Estarías libre el jueves para una llamada?"),
    (rp.FREE, "en", "Would you be free in April?"),
    (rp.FREE, "fr", "Seriez-vous libre en fin de journée ?"),
    (rp.FREE, "de", "Wären Sie dazu bereit?"),
    (rp.FREE, "es", "¿Te viene bien el viernes?"),
    (rp.FLEXIBLE, "en", "Happy to work around your calendar."),
    (rp.FLEXIBLE, "fr", "Je m'adapterai à vos disponibilités."),
    (rp.FLEXIBLE, "de", "Ganz wie es Ihnen passt."),
    (rp.FLEXIBLE, "es", "Me adapto a tu horario."),
    (rp.COFFEE, "en", "Maybe over lunch?"),
    (rp.COFFEE, "fr", "Je vous propose un déjeuner."),
    (rp.COFFEE, "de", "Ich lade Sie auf einen Kaffee ein."),
    (rp.COFFEE, "es", "¿Quedamos para tomar algo?"),
    (rp.DURATION, "en", "It would take 15 minutes."),
    (rp.DURATION, "fr", "Une demi-heure suffirait."),
    (rp.DURATION, "de", "Eine halbe Stunde sollte reichen."),
    (rp.DURATION, "es", "Con media hora sería suficiente."),
    (rp.SHORT, "en", "Just a quick call."),
    (rp.SHORT, "fr", "Un petit appel suffira."),
    (rp.SHORT, "de", "Ein kurzes Telefonat genügt."),
    (rp.SHORT, "es", "Una llamada rápida."),
    (rp.DAY, "en", "Any time next week."),
    (rp.DAY, "fr", "Lundi prochain, si possible."),
    (rp.DAY, "de", "Irgendwann nächste Woche."),
    (rp.DAY, "es", "La semana que viene."),
    (rp.REASON, "en", "I could use your advice."),
    (rp.REASON, "fr", "J'envisage une reconversion."),
    (rp.REASON, "de", "Ich bräuchte deinen Rat."),
    (rp.REASON, "es", "Me vendrían bien tus consejos."),
    (rp.FORM, "en", "A phone call is fine."),
    (rp.FORM, "fr", "Un appel me suffirait."),
    (rp.FORM, "de", "Ein Telefonat wäre toll."),
    (rp.FORM, "es", "Una llamada sería genial."),
    (rp.CONTEXT, "en", "Jess mentioned you led the redesign."),
    (rp.CONTEXT, "fr", "Marc m'a conseillé de vous écrire."),
    (rp.CONTEXT, "de", "Wir kennen uns vom Summit."),
    (rp.CONTEXT, "es", "Nos conocimos en Barcelona."),
]


@pytest.mark.parametrize(("label", "language", "text"), FAMILIES, ids=lambda v: str(v)[:40])
def test_each_phrase_family_fires_in_each_language(label: str, language: str, text: str) -> None:
    assert any(reason.startswith(f"{label} (") for reason in score(text).reasons), (language, text)


def test_every_family_covers_the_four_languages_with_one_weight() -> None:
    weights: dict[str, set[float]] = {}
    languages: dict[str, set[str]] = {}
    for row in rp.PHRASES:
        assert row.language in {"en", "fr", "de", "es", "any"}, row
        weights.setdefault(row.label, set()).add(row.weight)
        languages.setdefault(row.label, set()).add(row.language)
    assert all(len(found) == 1 for found in weights.values()), weights
    for label, found in languages.items():
        assert "any" in found or {"en", "fr", "de", "es"} <= found, (label, found)
    tested = {label for label, _language, _text in FAMILIES}
    assert tested == {label for label, found in weights.items() if found.pop() > 0} - {rp.ON_BEHALF}


@pytest.mark.parametrize(
    "text",
    [
        "Hi Ana, would you have half an hour sometime next week? I'd love to hear how you moved into product.",
        "Hello Ana, could we find 30 minutes on Tuesday or Wednesday afternoon? Jess mentioned you led the redesign.",
        "Hey Ana! I'm back in Berlin in April and could use your advice. Let's grab a coffee once I've settled in?",
        "Bonjour Ana, auriez-vous une vingtaine de minutes à m'accorder pour un échange téléphonique ? "
        "Votre parcours ressemble à celui que j'aimerais suivre.",
        "Coucou Ana, tu serais dispo demain pour un petit appel ? J'hésite entre deux offres, 15 minutes suffiraient.",
        "Hallo Ana, passt es dir irgendwann nächste Woche? Ich würde vorher gern mit dir über die Lead-Stelle sprechen.",
        "Liebe Frau Owner, hätten Sie in den nächsten Wochen Zeit für ein kurzes Telefonat? Ich würde gern mehr über "
        "Ihren Berufseinstieg erfahren.",
        "Hola Ana: ¿tienes un rato la semana que viene? Carmen me dijo que no te importaría hablar del cambio a producto.",
        "Hola Ana, estaré en Berlín en abril. ¡Tomemos un café! Quiero que me des tu opinión sobre el roadmap.",
    ],
)
def test_what_people_write_reaches_the_threshold(text: str) -> None:
    result = score(text)
    assert result.confidence >= THRESHOLD, result.reasons
    assert not result.on_behalf


@pytest.mark.parametrize(
    ("cls", "text"),
    [
        (
            "newsletter",
            "The Product Brief #112: how to run better coffee chats. Why 'would you have 15 minutes?' works "
            "better than 'can we meet?'. Read the full essay. You are receiving this because you subscribed. Unsubscribe",
        ),
        (
            "newsletter",
            "La Lettre Produit : « Auriez-vous 20 minutes pour un café ? » Trois PM racontent comment un "
            "échange d'une demi-heure a changé leur carrière. Se désinscrire",
        ),
        (
            "webinar",
            "Hi Ana, I wanted to personally invite you to our webinar next Tuesday: 30 minutes with our Head of "
            "Research and a short demo. Would you be free to join? Seats are limited.",
        ),
        (
            "webinar",
            "Hola Ana: te invito personalmente a nuestro webinar del jueves. Nuestra CPO presentará las novedades "
            "de nuestra plataforma. ¿Te vendría bien conectarte?",
        ),
        (
            "met_last_week",
            "Hi Ana, thanks again for the coffee last Tuesday. The 30 minutes flew by! Here are the two "
            "links I mentioned, and I'll let you know how the interview goes.",
        ),
        (
            "met_last_week",
            "Liebe Ana, danke dir für den Kaffee am Dienstag und die vielen Tipps! Ich habe direkt "
            "angefangen, den Onboarding-Plan umzubauen.",
        ),
        (
            "met_last_week",
            "Bonjour Ana, merci encore pour le café de mardi dernier, j'ai beaucoup appris en une "
            "demi-heure ! Voici le lien promis.",
        ),
        (
            "met_last_week",
            "Hola Ana: ¡muchas gracias por el café de la semana pasada! Ya he empezado a leer el libro "
            "que me recomendaste.",
        ),
        ("no_context_available", "Are you available?"),
        (
            "no_context_available",
            "Are you available today? I need you to take care of something for me quickly and discreetly.",
        ),
        ("no_context_available", "Bonjour, êtes-vous disponible ?"),
        ("no_context_available", "Hallo Ana, hast du kurz Zeit? Melde dich bitte."),
        ("no_context_available", "¿Está usted disponible? Necesito un favor urgente y confidencial."),
    ],
)
def test_what_only_looks_like_a_request_stays_below(cls: str, text: str) -> None:
    assert score(text).confidence < THRESHOLD, cls


@pytest.mark.parametrize(
    "text",
    [
        "Hi Ana, happy to connect you two! My colleague Sam would love to talk to you about research ops.",
        "I hope all is well. One of my engineers is exploring product: would you be willing to spend half an hour "
        "with him?",
        "Bonjour Madame, ma collègue Élodie, qui dirige notre équipe data, aimerait beaucoup vous parler. "
        "Pourriez-vous lui accorder une demi-heure ?",
        "Sehr geehrte Frau Owner, meine Kollegin Julia würde sich sehr gern mit Ihnen über Design-Systeme "
        "unterhalten. Hätten Sie 30 Minuten für sie?",
        "Hola Ana: mi compañera Laura estaría encantada de hablar contigo sobre cómo montaste el equipo.",
        "Hola Ana: te presento a Javier, muy buen amigo mío. Le encantaría hablar contigo media hora.",
    ],
)
def test_a_request_on_someone_elses_behalf_is_reported(text: str) -> None:
    result = score(text)
    assert result.on_behalf, result.reasons
    assert result.confidence >= THRESHOLD, result.reasons


def test_a_relative_day_is_a_signal_never_a_proposed_time() -> None:
    text = "Would you have half an hour sometime next week? Or tomorrow? I'd love to hear how you moved into product."
    assert any(reason.startswith(rp.DAY) for reason in score(text).reasons)
    assert at(text) == []


def test_only_the_new_text_of_a_thread_counts() -> None:
    """A proposal counts above the quoted history; the history alone does not make the mail a request."""
    history = (
        "\nOn Thu, 13 Mar 2025 at 17:02, Ben Carter <ben@lumen.example> wrote:\n"
        "> Could we meet for coffee next week? Would you have 30 minutes? I'd love your advice on my career.\n"
    )
    assert score("Re: Congrats\nThanks, the slides arrived safely." + history).confidence < THRESHOLD
    proposal = "Re: Congrats\nSounds good - could we meet for a coffee on the 24th? I have a hiring question."
    assert score(proposal + history).confidence >= THRESHOLD


def test_hostile_text_is_scored_in_linear_time() -> None:
    """Partial phrases, spaces and question marks repeated: every pattern is bounded, so this just returns."""
    pieces = [
        "would you have " * 1500,
        "could we " + " " * 19000 + "?",
        "my colleague " * 1600,
        "würde " * 3000 + "treffen",
        ("coffee " + "x" * 70 + " ") * 250 + "?",
        "15" + " " * 19990 + "min",
        "¿" * 20000,
        ("a" * 60 + "?") * 300,
        "thanks " + "a " * 9990 + "yesterday",
    ]
    for text in pieces:
        assert 0.0 <= score(text).confidence <= 1.0
    assert 0.0 <= score("".join(pieces)).confidence <= 1.0
