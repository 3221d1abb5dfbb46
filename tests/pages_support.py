"""What the pages' tests share: a cooperating bank made as the admin service makes one."""

from __future__ import annotations

import inspect

from issuance.services import admin
from issuance.store import Store


async def new_bank(store: Store, code: str, name: str) -> str:
    """A bank that orders cards at once; ``active=True`` where the service asks whether it is
    an existing cooperating bank rather than an applicant."""
    if "active" in inspect.signature(admin.create_bank).parameters:
        return await admin.create_bank(store, code, name, active=True)  # type: ignore[call-arg]
    return await admin.create_bank(store, code, name, active=True)
