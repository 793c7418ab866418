"""A sealed value as it travels in an event: opaque to every process without the key.

The domain only carries sealed values from one event to the next (the worker never opens them);
sealing and opening are `mash.adapters.sealing`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

KeyId = Annotated[str, Field(min_length=1, max_length=200)]


class Sealed(BaseModel):
    """AES-GCM ciphertext: which data key, the nonce, the ciphertext (base64)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: KeyId
    nonce: str
    data: str


# Seals `plaintext` under the data key of a token (a contact's own id) for one record (its id,
# bound in, so a sealed value cannot be moved to another record).
Seal = Callable[[str, str, bytes], Sealed]
