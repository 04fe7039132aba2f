"""A schemathesis check (loaded with ``SCHEMATHESIS_HOOKS``): a schema-valid request that the server refuses
with 400 or 422 must be refused by one of the rules its operation documents under ``x-hokusai-rules``
(the rules JSON Schema cannot state: an address's checksum, a metric that fits the model's task, ...).

schemathesis's own ``positive_data_acceptance`` is told (per operation, in the generated config) that these
operations may answer 400/422; this check holds each such answer to a documented rule's error code, so a
schema that says less than the server enforces still fails.
"""

from __future__ import annotations

from typing import Any

import schemathesis

RULES_KEY = "x-hokusai-rules"


def documented_codes(operation: dict[str, Any]) -> set[str]:
    """The error codes of an OpenAPI operation's documented rules."""
    return {rule["code"] for rule in operation.get(RULES_KEY, [])}


@schemathesis.check
def refused_only_by_a_documented_rule(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return None
    codes = documented_codes(case.operation.definition.raw)
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if code not in codes:
        raise AssertionError(
            f"a schema-valid request was refused with {response.status_code} {code!r}, which is not one of "
            f"the operation's documented rules ({', '.join(sorted(codes)) or 'none'})"
        )
    return None
