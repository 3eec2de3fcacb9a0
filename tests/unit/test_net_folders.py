"""Finding the Drafts and Sent folders: SPECIAL-USE first, then well-known and localised names."""

from __future__ import annotations

import pytest

from mailflow.net.imap import Folder, find_drafts_folder, find_folder, find_sent_folder


def _folders(*specs: str, delimiter: str = "/") -> list[Folder]:
    folders = []
    for spec in specs:
        name, _, flags = spec.partition("|")
        folders.append(Folder(name, delimiter, frozenset(flags.split())))
    return folders


def test_the_special_use_flag_wins_over_names() -> None:
    folders = _folders("Drafts", "Entwürfe|\\Drafts", "Sent", "Gesendet|\\sent")
    assert find_drafts_folder(folders) == folders[1]
    assert find_sent_folder(folders) == folders[3]  # flags compare without case


@pytest.mark.parametrize(
    ("names", "delimiter", "drafts", "sent"),
    [
        (["INBOX", "INBOX.Drafts", "INBOX.Sent"], ".", "INBOX.Drafts", "INBOX.Sent"),
        (["INBOX", "[Gmail]/Drafts", "[Gmail]/Sent Mail"], "/", "[Gmail]/Drafts", "[Gmail]/Sent Mail"),
        (["INBOX", "Entwürfe", "Gesendete Elemente"], "/", "Entwürfe", "Gesendete Elemente"),
        (
            ["INBOX", "INBOX/Brouillons", "INBOX/Éléments envoyés"],
            "/",
            "INBOX/Brouillons",
            "INBOX/Éléments envoyés",
        ),
        (["INBOX", "bozze", "Posta inviata"], "/", "bozze", "Posta inviata"),
        (["INBOX", "Concepten", "Verzonden items"], "/", "Concepten", "Verzonden items"),
        (["INBOX", "Borradores", "Enviados"], "/", "Borradores", "Enviados"),
    ],
)
def test_fallback_names(names: list[str], delimiter: str, drafts: str, sent: str) -> None:
    folders = _folders(*names, delimiter=delimiter)
    found_drafts, found_sent = find_drafts_folder(folders), find_sent_folder(folders)
    assert found_drafts is not None and found_drafts.name == drafts
    assert found_sent is not None and found_sent.name == sent


def test_unselectable_and_unknown_folders_are_not_chosen() -> None:
    folders = _folders("Drafts|\\Noselect", "Projects", "Old-Drafts")
    assert find_drafts_folder(folders) is None
    assert find_sent_folder(folders) is None


def test_inbox_is_found_in_any_case_other_names_exactly() -> None:
    folders = _folders("INBOX", "Interviews")
    assert find_folder(folders, "inbox") == folders[0]
    assert find_folder(folders, "interviews") is None
