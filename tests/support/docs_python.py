"""One Python session for one documentation page: the blocks run in order in one namespace, as a reader
pastes them into one interpreter.

Started as a script (``python docs_python.py``); each request is one JSON line on stdin,
``{"name": "docs/x.md:12", "code": "..."}``, and each answer one JSON line on the original stdout,
``{"ok": true}`` or ``{"ok": false, "error": "<traceback>"}``. What a block prints (and what its
subprocesses print) goes to stderr, so it never mixes with the answers.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # prints and subprocesses of the blocks write to stderr
    sys.stdout = sys.stderr
    namespace: dict[str, object] = {"__name__": "__main__"}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            exec(compile(request["code"], request["name"], "exec"), namespace)
        except BaseException:
            answer = {"ok": False, "error": traceback.format_exc(limit=-8)}
        else:
            answer = {"ok": True}
        sys.stderr.flush()
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
