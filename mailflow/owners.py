"""The owner as a record: owner 1 is the configuration's ``[owner]``, and settings are seen per owner.

At every start the configuration's ``[owner]`` (with the drafts account, templates folder and
playbook) is written into owner 1's row (:func:`sync_owner`): a config file keeps working as it
always did.  Whatever works for an owner reads that owner's record through
:func:`settings_for`, which gives the settings with ``[owner]``, the templates folder and the
playbook overrides taken from the record; for owner 1 they are the configuration's own.
"""

from __future__ import annotations

from pathlib import Path

from mailflow.config import Settings
from mailflow.store import OwnerData, OwnerRow, Store

#: owner 1 stands for the configuration's ``[owner]``
CONFIGURED = 1
#: never written into the database: they open an account
_SECRETS = {"password", "password_command", "oauth2_token_command"}


def owner_data(settings: Settings) -> OwnerData:
    """What the configuration says about its owner, secrets left out."""
    owner = settings.owner
    drafts = settings.drafts.model_dump(mode="json", exclude=_SECRETS) if settings.drafts is not None else {}
    return OwnerData(
        name=owner.name,
        addresses=tuple(owner.addresses),
        timezone=owner.timezone,
        story=owner.story,
        availability=owner.availability,
        drafts=drafts,
        templates_folder=str(settings.templates.folder or ""),
        playbook=settings.playbook.model_dump(mode="json", exclude_defaults=True),
    )


def sync_owner(store: Store, settings: Settings) -> None:
    """Write the configuration's ``[owner]`` into owner 1's record (nothing when it is unchanged).

    Read first: every command starts here, and a write transaction would wait for the daemon's writes.
    """
    data, owner = owner_data(settings), store.as_owner(CONFIGURED)
    with owner.read() as tx:
        if not tx.owner_differs(CONFIGURED, data):
            return
    with owner.transaction() as tx:
        tx.save_owner(CONFIGURED, data)


def settings_for(settings: Settings, owner: OwnerRow) -> Settings:
    """``settings`` as ``owner`` sees them: their ``[owner]``, templates folder and playbook overrides.

    Owner 1 is the configuration itself (its record is written from it at every start): its settings are
    the configuration's, unchanged.
    """
    if owner.id == CONFIGURED:
        return settings
    section = settings.owner.model_copy(
        update={
            "name": owner.name,
            "addresses": list(owner.addresses),
            "timezone": owner.timezone,
            "story": owner.story,
            "availability": owner.availability or settings.owner.availability,
        }
    )
    folder = Path(owner.templates_folder) if owner.templates_folder else None
    templates = settings.templates.model_copy(update={"folder": folder})
    playbook = settings.playbook
    if owner.playbook:
        playbook = type(playbook).model_validate({**playbook.model_dump(), **owner.playbook})
    # another owner's drafts account needs its own secret, which comes with the team deployment
    drafts = settings.drafts if owner.id == CONFIGURED else None
    return settings.model_copy(
        update={"owner": section, "templates": templates, "playbook": playbook, "drafts": drafts}
    )
