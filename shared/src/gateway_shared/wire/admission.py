"""What policy's admission decided that the router must apply to the request.

Today one fact: the output cap. A request that asks for no maximum of output tokens,
from a key whose plan caps them, is sent to the provider with the plan's cap, since that
is what policy reserved for it. The rule is policy's (``policy.admission``); the router
only applies it, in the field of the API the request is sent in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway_shared.wire import headers as h


@dataclass(frozen=True, slots=True)
class Admitted:
    # Output tokens the router must request when the request itself set no maximum.
    output_cap: int | None = None

    def headers(self) -> dict[str, str]:
        return {h.ADMISSION: str(self.output_cap)} if self.output_cap is not None else {}

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Admitted:
        raw = headers.get(h.ADMISSION)
        if raw is None or not raw.isdigit():
            return cls()
        return cls(output_cap=int(raw) or None)
