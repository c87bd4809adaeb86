"""Python scripts (tree-sitter-python): eval/exec, processes, native code, computed imports,
built or escaped names, decoded payloads run as code, reverse shells, and the string rules on
string literals only."""

from __future__ import annotations

import bisect
from functools import cache

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from openclaw_secure_stack.scanner.findings import SENSITIVE_NAMES, FileFindings
from openclaw_secure_stack.scanner.source import Source, node_text, unescape

QUERY = """
(call function: (_) @callee arguments: (_) @args) @call
(string) @string
(ERROR) @error
"""
EXEC_PREFIXES = ("subprocess.", "os.system", "os.popen", "os.exec", "os.spawn", "pty.spawn")


@cache
def _language() -> Language:
    return Language(tree_sitter_python.language())


@cache
def _query() -> Query:
    return Query(_language(), QUERY)


def _literal(node: Node) -> str | None:
    """The value of a plain string literal (no f-string interpolation), or None."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.named_children):
        return None
    return "".join(
        unescape(node_text(child))
        for child in node.named_children
        if child.type == "string_content"
    )


def _fold(node: Node | None) -> str | None:
    if node is None:
        return None
    if node.type == "string":
        return _literal(node)
    if node.type == "concatenated_string":
        parts = [_fold(child) for child in node.named_children]
        return None if any(p is None for p in parts) else "".join(p or "" for p in parts)
    if node.type == "binary_operator":
        operator = node.child_by_field_name("operator")
        if operator is None or operator.type != "+":
            return None
        left, right = (
            _fold(node.child_by_field_name("left")),
            _fold(node.child_by_field_name("right")),
        )
        return None if left is None or right is None else left + right
    if node.type == "parenthesized_expression" and node.named_children:
        return _fold(node.named_children[0])
    return None


def analyze(source: Source, out: FileFindings) -> None:
    tree = Parser(_language()).parse(source.data)
    captures = QueryCursor(_query()).captures(tree.root_node)
    socket_calls, dup2, shell = False, False, False
    for call in captures.get("call", []):
        callee, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
        if callee is None or args is None:
            continue
        name = node_text(callee)
        at = int(call.start_point[0]) + 1
        first = args.named_children[0] if args.named_children else None
        if name in ("eval", "exec"):
            out.add("OSS-SCAN-001", at, f"{name}(...) runs text as code")
            if "b64decode" in node_text(args) or "decode(" in node_text(args):
                out.add("OSS-SCAN-013", at, f"decoded data passed to {name}")
        elif name.startswith(EXEC_PREFIXES):
            out.add("OSS-SCAN-004", at, f"{name}(...)")
            shell = shell or name == "pty.spawn"
            if "b64decode" in node_text(args):
                out.add("OSS-SCAN-013", at, f"decoded data passed to {name}")
        elif name.startswith("ctypes.") and name.rsplit(".", 1)[-1] in ("CDLL", "cdll", "WinDLL"):
            out.add("OSS-SCAN-005", at, f"{name}(...)")
        elif name in ("__import__", "importlib.import_module"):
            if first is None or _literal(first) is None:
                built = _fold(first)
                rule = "OSS-SCAN-010" if built and built in SENSITIVE_NAMES else "OSS-SCAN-006"
                out.add(rule, at, f"{name} of a computed name")
        elif name == "getattr" and len(args.named_children) >= 2:
            key = args.named_children[1]
            built = _fold(key)
            if built and built.lower() in SENSITIVE_NAMES and key.type != "string":
                out.add("OSS-SCAN-010", at, f"getattr of a built name: {built!r}")
        elif name in ("dict", "json.dumps", "str") and first is not None:
            if node_text(first) == "os.environ":
                out.add("OSS-SCAN-071", at, f"{name}(os.environ)")
        elif name == "os.environ.copy":
            out.add("OSS-SCAN-071", at, "os.environ.copy()")
        if name.endswith((".connect", "create_connection")) and first is not None:
            # socket.connect((host, port)): the host is checked like a URL's.
            address = first.named_children[0] if first.type == "tuple" else None
            host = _literal(address) if address is not None else None
            if host:
                out.check_url(f"tcp://{host}", at)
        socket_calls = socket_calls or name.endswith("socket.socket") or name.endswith(".connect")
        dup2 = dup2 or name.endswith("dup2")
    if socket_calls and dup2 and shell:
        out.add("OSS-SCAN-060", 1, "socket wired to a shell with dup2")

    strings = captures.get("string", [])
    for node in strings:
        raw = node.text or b""
        if b"\\x" in raw or b"\\u" in raw:
            value = (_literal(node) or "").lower()
            if value in SENSITIVE_NAMES or "child_process" in value:
                out.add("OSS-SCAN-011", int(node.start_point[0]) + 1, repr(value))
    ranges = sorted((node.start_byte, node.end_byte) for node in strings)
    starts = [start for start, _ in ranges]

    def where(offset: int) -> int | None:
        byte = source.byte_of_char(offset)
        index = bisect.bisect_right(starts, byte) - 1
        if index < 0 or not ranges[index][0] <= byte < ranges[index][1]:
            return None
        return source.line_of_byte(byte)

    if ranges:
        out.check_text("string", source.text, 1, where)
    if tree.root_node.has_error:
        errors = captures.get("error", [])
        out.add("OSS-SCAN-095", int(errors[0].start_point[0]) + 1 if errors else 1, "syntax errors")
        for error in errors:
            out.check_text("string", node_text(error), int(error.start_point[0]) + 1)
