"""Reading IAM policy documents in tests: does a policy allow an action on a resource?"""

from __future__ import annotations

import fnmatch
import json
from typing import Any


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowing_statements(policy: str | dict[str, Any], action: str, arn: str) -> list[dict[str, Any]]:
    """The Allow statements granting ``action`` on ``arn`` (IAM wildcards ``*`` and ``?``)."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    return [
        statement
        for statement in _as_list(document["Statement"])
        if statement.get("Effect", "Allow") == "Allow"
        and any(fnmatch.fnmatchcase(action, pattern) for pattern in _as_list(statement.get("Action", [])))
        and any(fnmatch.fnmatchcase(arn, pattern) for pattern in _as_list(statement.get("Resource", [])))
    ]


def allows(policy: str | dict[str, Any], action: str, arn: str) -> bool:
    """Whether an Allow statement of the policy grants ``action`` on ``arn``."""
    return bool(allowing_statements(policy, action, arn))


def principals(statement: dict[str, Any], kind: str = "AWS") -> list[str]:
    """The principals of one kind a statement names."""
    return _as_list(statement.get("Principal", {}).get(kind, []))
