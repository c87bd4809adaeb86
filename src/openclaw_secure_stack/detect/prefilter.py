"""The set pass runs on folded text *before* whitespace is collapsed, with widened patterns.

Collapsing whitespace (`" ".join(text.split())`) costs more than the whole RE2 set pass, and
almost every text matches nothing. So the set runs on the folded text with each pattern rewritten
into a superset that tolerates whitespace runs; only when a candidate fires is the text collapsed
and the exact pattern confirmed. `widen()` guarantees: if `pattern` matches
`" ".join(folded.split())`, then `widen(pattern)` matches `folded`. Widening:
- a literal space or `\\s` becomes a run of any whitespace `str.split()` knows;
- an atom that can match a space (`.`, `\\W`, `\\D`, a class that admits a space) is made
  repeatable (`x` → `x+`, `x?` → `x*`, `x{m,n}` → `x{m,}`), since one space may stand for a run;
- `^` and `$` become empty (the folded text may start or end with whitespace);
- other bounded repetitions `{m,n}` become `{m,}`: counted repeats multiply the set's DFA states.
"""

from __future__ import annotations

import sys

_WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
_WS_BODY = "".join(f"\\x{{{ord(c):x}}}" for c in _WHITESPACE)
WHITESPACE_RUN = f"[{_WS_BODY}]+"
_SPACE_ESCAPES = frozenset({"\\W", "\\D"})


def _class_end(pattern: str, start: int) -> int:
    """Index just past the character class that opens at `start`."""
    index = start + 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1
    while pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    return index + 1


def _quantifier_end(pattern: str, start: int) -> int:
    if start >= len(pattern):
        return start
    if pattern[start] in "?*+":
        end = start + 1
    elif pattern[start] == "{" and "}" in pattern[start:]:
        end = pattern.index("}", start) + 1
    else:
        return start
    return end + 1 if pattern.startswith("?", end) else end


def _widen_quantifier(quantifier: str, *, matches_space: bool) -> str:
    lazy = "?" if len(quantifier) > 1 and quantifier.endswith("?") and quantifier[0] != "?" else ""
    base = quantifier.removesuffix("?") if lazy else quantifier
    if base.startswith("{"):
        low = base[1:-1].split(",")[0]
        return f"{{{low},}}{lazy}"
    if matches_space:
        return {"": "+", "?": "*", "*": "*", "+": "+"}[base] + lazy
    return quantifier


def widen(pattern: str) -> str:
    """A superset of `pattern` that matches the folded text wherever `pattern` matches the
    whitespace-collapsed text (see the module docstring)."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        matches_space = False
        is_atom = True
        if pattern.startswith("(?:", index):
            atom, index, is_atom = "(?:", index + 3, False
        elif char in "(|":
            atom, index, is_atom = char, index + 1, False
        elif char == "\\":
            atom = pattern[index : index + 2]
            if atom == "\\x":
                atom = pattern[index : index + 4]
            index += len(atom)
            if atom == "\\s":
                atom, matches_space = f"(?:{WHITESPACE_RUN})", False
            matches_space = matches_space or atom in _SPACE_ESCAPES
        elif char == "[":
            end = _class_end(pattern, index)
            atom, index = pattern[index:end], end
            negated = atom.startswith("[^")
            admits_space = " " in atom or "\\s" in atom
            if negated:
                matches_space = not admits_space
            elif admits_space:
                atom, matches_space = "[" + _WS_BODY + atom[1:], True
        elif char == " ":
            atom, index = f"(?:{WHITESPACE_RUN})", index + 1
        elif char == ".":
            atom, index, matches_space = "(?s:.)", index + 1, True
        elif char in "^$":
            atom, index = "(?:)", index + 1
        else:
            atom, index = char, index + 1
        end = _quantifier_end(pattern, index)
        quantifier = pattern[index:end]
        if is_atom or char == ")":
            quantifier = _widen_quantifier(quantifier, matches_space=matches_space)
        out.append(atom + quantifier)
        index = end
    return "".join(out)
