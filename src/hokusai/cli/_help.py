"""Help that shows value names, not Python types: ``--model MODEL``, ``--out PATH``, flags bare.

Typer's help prints a parameter's Python type (``<str>``, ``<bool>``, ``<list[str]>``) where no
``metavar`` was given. One rule here names an option's value after the option instead (``--model`` →
``MODEL``, a path → ``PATH``, a choice → its choices), shows nothing for on/off flags and for arguments
(their name is already shown), so no command has to repeat a metavar for every option.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption


def option_value(option: TyperOption, ctx: Any) -> str | None:
    """What the help shows after an option: its metavar, else a name for its value (None for a flag)."""
    if option.metavar is not None:
        return option.metavar
    if option.is_flag or option.count:
        return None
    kind = option.type_descriptor
    if kind.is_choice:
        return "|".join(str(choice) for choice in kind.choices or ())
    name = "PATH" if kind.is_path else (option.name or "value").upper()
    return f"{name}..." if option.multiple or option.nargs != 1 else name


def argument_value(argument: TyperArgument, ctx: Any) -> str | None:
    """Nothing: the argument's name (``ATTESTATION_ID``) already says what it is."""
    return argument.metavar


def install() -> None:
    """Use these rules in every command's help (called once, when the CLI is built)."""
    TyperOption.display_type_rich = option_value  # type: ignore[method-assign,assignment]
    TyperArgument.display_type_rich = argument_value  # type: ignore[method-assign,assignment]
