"""Personal data at rest: the master key, the data keys it wraps, sealing and blind indexes.

See ``docs/encryption.md`` for the design. The service seals every personal
value with AES-256-GCM under a data key (DEK); DEKs are stored in the database
wrapped by a master key that never is (:mod:`issuance.vault.master`). Look-ups
by citizen ID use a keyed blind index (HMAC-SHA256 under its own key).
"""

from issuance.vault.master import FileMasterKey, MasterKey, load_master_key
from issuance.vault.vault import (
    DataKey,
    SealedPayloadCodec,
    Vault,
    is_sealed,
    sealed_key_id,
)

__all__ = [
    "DataKey",
    "FileMasterKey",
    "MasterKey",
    "SealedPayloadCodec",
    "Vault",
    "is_sealed",
    "load_master_key",
    "sealed_key_id",
]
