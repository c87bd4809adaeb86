"""JavaScript and TypeScript (each with its own tree-sitter grammar): calls resolved through
module aliases and constant folding, so `globalThis['ev'+'al']` is `eval` and `retrieval` is not.

Queries run in tree-sitter (C); Python only looks at the captured calls, computed member
accesses, imports and escaped strings. Text rules, URLs and base64 payloads are checked on the
string literals (and template strings) only: never on identifiers or comments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from openclaw_secure_stack.scanner import shell
from openclaw_secure_stack.scanner.findings import SENSITIVE_NAMES, FileFindings
from openclaw_secure_stack.scanner.source import MAX_FOLDED, Source, node_text, unescape

GRAMMARS: dict[str, Callable[[], object]] = {
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
}
EXTENSIONS = {
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
}
QUERY = """
(call_expression) @call
(new_expression constructor: (_) @ctor)
(subscript_expression object: (_) @object index: (_) @index) @subscript
(variable_declarator name: (_) @name value: (_) @value) @declarator
(import_statement) @import
(escape_sequence) @escape
(ERROR) @error
"""
GLOBALS = frozenset({"globalThis", "window", "global", "self", "this"})
EXEC_MODULES = frozenset({"child_process"})
EXEC_FUNCTIONS = frozenset(
    {"exec", "execSync", "execFile", "execFileSync", "spawn", "spawnSync", "fork"}
)
SHELLS = frozenset({"/bin/sh", "/bin/bash", "sh", "bash", "cmd.exe", "powershell", "/bin/zsh"})
REMOVERS = frozenset({"rm", "rmSync", "rmdir", "rmdirSync", "remove", "removeSync", "rimraf"})
TIMERS = frozenset({"setTimeout", "setInterval", "setImmediate"})
# Callee names worth resolving; any other call is skipped without building its name (bundles
# hold hundreds of thousands of calls).
WATCHED = (
    TIMERS
    | EXEC_FUNCTIONS
    | REMOVERS
    | {"eval", "Function", "binding", "dlopen", "_linkedBinding", "stringify", "entries"}
    | {"keys", "values", "connect", "createConnection", "Socket", "require", "import"}
    | {"request", "get", "send", "lookup", "resolve", "resolve4", "resolve6", "resolveTxt"}
)
# Node's network modules: the host a call names (a string argument, or `host`/`hostname` of an
# options object) is checked like a URL's host, so `net.connect(4444, '203.0.113.5')` counts.
NETWORK_MODULES = frozenset({"net", "tls", "dgram", "dns", "http", "https", "http2"})
HOST_KEYS = frozenset({"host", "hostname"})


def _last_name(callee: Node) -> str | None:
    """The callee's last name without resolving it; None when it is computed (`a[k]`)."""
    kind = callee.type
    if kind in ("identifier", "import"):
        return node_text(callee)
    if kind == "member_expression":
        prop = callee.child_by_field_name("property")
        return node_text(prop) if prop is not None else ""
    if kind == "subscript_expression":
        return None
    if kind in ("parenthesized_expression", "sequence_expression") and callee.named_children:
        return _last_name(callee.named_children[-1])
    return ""


@cache
def _language(grammar: str) -> Language:
    return Language(GRAMMARS[grammar]())


@cache
def _query(grammar: str) -> Query:
    return Query(_language(grammar), QUERY)


def _strip_node_prefix(module: str) -> str:
    return module.removeprefix("node:")


@dataclass
class _Resolver:
    """Module aliases and constant strings of one file, for naming callees."""

    aliases: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Node] = field(default_factory=dict)
    _folding: set[str] = field(default_factory=set)

    def fold(self, node: Node | None) -> str | None:
        """The constant string `node` evaluates to, or None."""
        if node is None:
            return None
        kind = node.type
        if kind == "string":
            return unescape(node_text(node)[1:-1])
        if kind == "template_string":
            parts = []
            for child in node.named_children:
                if child.type == "template_substitution":
                    inner = self.fold(child.named_children[0] if child.named_children else None)
                    if inner is None:
                        return None
                    parts.append(inner)
                else:
                    parts.append(unescape(node_text(child)))
            return "".join(parts)
        if kind == "binary_expression":
            operator = node.child_by_field_name("operator")
            if operator is None or operator.type != "+":
                return None
            left = self.fold(node.child_by_field_name("left"))
            right = self.fold(node.child_by_field_name("right")) if left is not None else None
            if left is None or right is None or len(left) + len(right) > MAX_FOLDED:
                return None
            return left + right
        if kind == "parenthesized_expression" and node.named_children:
            return self.fold(node.named_children[-1])
        if kind == "identifier":
            name = node_text(node)
            value = self.constants.get(name)
            if value is None or name in self._folding:
                return None
            self._folding.add(name)
            try:
                return self.fold(value)
            finally:
                self._folding.discard(name)
        if kind == "call_expression":
            return self._fold_call(node)
        return None

    def _fold_call(self, node: Node) -> str | None:
        function, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if function is None or args is None or function.type != "member_expression":
            return None
        name = node_text(function)
        if name == "String.fromCharCode":
            try:
                codes = [int(node_text(arg), 0) for arg in args.named_children]
                return "".join(chr(code) for code in codes)
            except ValueError:
                return None
        target = function.child_by_field_name("object")
        if name.endswith(".join") and target is not None and target.type == "array":
            pieces = [self.fold(item) for item in target.named_children]
            separator = self.fold(args.named_children[0]) if args.named_children else ","
            if separator is None or any(piece is None for piece in pieces):
                return None
            return separator.join(piece or "" for piece in pieces)
        return None

    def name(self, node: Node | None) -> tuple[str, bool]:
        """The dotted name a callee resolves to, and whether it was built (folded) to hide it."""
        if node is None:
            return "?", False
        kind = node.type
        if kind == "identifier":
            text = node_text(node)
            return self.aliases.get(text, text), False
        if kind in ("member_expression", "subscript_expression"):
            base, hidden = self.name(node.child_by_field_name("object"))
            if kind == "member_expression":
                prop = node.child_by_field_name("property")
                return f"{base}.{node_text(prop) if prop else '?'}", hidden
            index = node.child_by_field_name("index")
            key = self.fold(index)
            if key is None:
                return f"{base}.?", hidden
            return f"{base}.{key}", hidden or (index is not None and index.type != "string")
        if kind in ("parenthesized_expression", "sequence_expression", "await_expression"):
            children = node.named_children
            return self.name(children[-1]) if children else ("?", False)
        if kind == "call_expression":
            module = required_module(node, self)
            if module is not None:
                return _strip_node_prefix(module[0]), module[1]
        return "?", False


def required_module(call: Node, resolver: _Resolver) -> tuple[str, bool] | None:
    """`require(X)` / `import(X)` with X folding to a constant: (module, X was built)."""
    function, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
    if function is None or args is None or node_text(function) not in ("require", "import"):
        return None
    first = args.named_children[0] if args.named_children else None
    module = resolver.fold(first)
    if module is None or first is None:
        return None
    return module, first.type != "string"


def _record_alias(declarator: Node, resolver: _Resolver) -> None:
    name, value = declarator.child_by_field_name("name"), declarator.child_by_field_name("value")
    if name is None or value is None:
        return
    if value.type == "await_expression" and value.named_children:
        value = value.named_children[-1]
    module = required_module(value, resolver) if value.type == "call_expression" else None
    if module is not None:
        bare = _strip_node_prefix(module[0])
        if name.type == "identifier":
            resolver.aliases[node_text(name)] = bare
        elif name.type == "object_pattern":
            for child in name.named_children:
                if child.type == "shorthand_property_identifier_pattern":
                    resolver.aliases[node_text(child)] = f"{bare}.{node_text(child)}"
                elif child.type == "pair_pattern":
                    key, local = (
                        child.child_by_field_name("key"),
                        child.child_by_field_name("value"),
                    )
                    if key is not None and local is not None and local.type == "identifier":
                        resolver.aliases[node_text(local)] = f"{bare}.{node_text(key)}"
        return
    if name.type == "identifier" and value.type in ("member_expression", "subscript_expression"):
        resolved, _hidden = resolver.name(value)
        if _sensitive(resolved):
            resolver.aliases[node_text(name)] = resolved
        return
    if name.type == "identifier" and value.type in (
        "string",
        "template_string",
        "binary_expression",
        "call_expression",
        "identifier",
    ):
        resolver.constants[node_text(name)] = value


def _record_import(statement: Node, resolver: _Resolver) -> str | None:
    source = statement.child_by_field_name("source")
    if source is None:
        return None
    module = _strip_node_prefix(unescape(node_text(source)[1:-1]))
    for clause in statement.named_children:
        if clause.type != "import_clause":
            continue
        for item in clause.named_children:
            if item.type == "identifier":
                resolver.aliases[node_text(item)] = module
            elif item.type == "namespace_import" and item.named_children:
                resolver.aliases[node_text(item.named_children[-1])] = module
            elif item.type == "named_imports":
                for spec in item.named_children:
                    imported, alias = (
                        spec.child_by_field_name("name"),
                        spec.child_by_field_name("alias"),
                    )
                    if imported is not None:
                        local = alias or imported
                        resolver.aliases[node_text(local)] = f"{module}.{node_text(imported)}"
    return module


def _sensitive(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].lower()
    return last in SENSITIVE_NAMES or name.lower() in SENSITIVE_NAMES


def _first_arg(args: Node) -> Node | None:
    return args.named_children[0] if args.named_children else None


def _hosts(args: Node, resolver: _Resolver) -> list[str]:
    """Host names or addresses a network call is given as constants."""
    found = []
    for arg in args.named_children:
        if arg.type == "object":
            for pair in arg.named_children:
                key = pair.child_by_field_name("key")
                if (
                    pair.type == "pair"
                    and key is not None
                    and node_text(key).strip("'\"") in HOST_KEYS
                ):
                    value = resolver.fold(pair.child_by_field_name("value"))
                    if value:
                        found.append(value)
        elif (value := resolver.fold(arg)) and "://" not in value and "/" not in value:
            found.append(value)
    return found


def _decodes_base64(args: Node) -> bool:
    text = node_text(args)
    return "base64" in text or "atob(" in text


def analyze(
    source: Source,
    grammar: str,
    out: FileFindings,
    line_offset: int = 0,
    *,
    whole_file: bool = True,
) -> None:
    """Report the findings of one JavaScript/TypeScript source into `out`; `whole_file` false
    for snippets (markdown code blocks), whose parse errors are not reported."""
    tree = Parser(_language(grammar)).parse(source.data)
    captures = QueryCursor(_query(grammar)).captures(tree.root_node)
    resolver = _Resolver()

    def line(node: Node) -> int:
        return int(node.start_point[0]) + 1 + line_offset

    modules: dict[str, Node] = {}
    for statement in captures.get("import", []):
        module = _record_import(statement, resolver)
        if module is not None:
            modules.setdefault(module, statement)
    for declarator in captures.get("declarator", []):
        _record_alias(declarator, resolver)

    exec_sinks: list[tuple[Node, str]] = []
    sockets = "net" in modules
    shell_spawns: list[Node] = []
    for call in captures.get("call", []):
        callee, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
        if callee is None or args is None:
            continue
        callee_text = _last_name(callee)
        if callee_text is not None and not (
            callee_text in WATCHED
            or callee_text in resolver.aliases
            or callee_text.startswith(("run", "compile"))
        ):
            continue
        if callee.type in ("identifier", "import") and callee_text in ("require", "import"):
            required = required_module(call, resolver)
            if required is None:
                out.add("OSS-SCAN-006", line(call), f"{callee_text}() of a computed name")
                continue
            bare = _strip_node_prefix(required[0])
            modules.setdefault(bare, call)
            if required[1] and _sensitive(bare):
                out.add("OSS-SCAN-010", line(call), f"{callee_text}() of a built name: {bare!r}")
            continue
        name, hidden = resolver.name(callee)
        last = name.rsplit(".", 1)[-1]
        if hidden and _sensitive(name):
            out.add("OSS-SCAN-010", line(call), f"call of a built name: {name}")
        if last == "eval" and (name == "eval" or name.split(".")[0] in GLOBALS):
            first = _first_arg(args)
            constant = resolver.fold(first) if first is not None else None
            if constant is not None and constant.isidentifier():
                out.add("OSS-SCAN-006", line(call), f"eval({constant!r}) hides a name")
            else:
                out.add("OSS-SCAN-001", line(call), f"{name}(...) runs text as code")
                exec_sinks.append((args, name))
        elif name == "Function" or (name.endswith(".Function") and name.split(".")[0] in GLOBALS):
            out.add("OSS-SCAN-002", line(call), "Function(...) compiles text as code")
            exec_sinks.append((args, name))
        elif name.startswith("vm.") and last.startswith(("run", "compile")):
            out.add("OSS-SCAN-002", line(call), f"{name}(...) compiles text as code")
            exec_sinks.append((args, name))
        elif last in TIMERS and name in (last, *(f"{g}.{last}" for g in GLOBALS)):
            first = _first_arg(args)
            if first is not None and first.type in ("string", "template_string"):
                out.add("OSS-SCAN-003", line(call), f"{name} given a string of code")
        elif name in ("process.binding", "process.dlopen", "process._linkedBinding"):
            out.add("OSS-SCAN-005", line(call), f"{name}(...)")
        elif name.split(".")[0] in EXEC_MODULES and last in EXEC_FUNCTIONS:
            exec_sinks.append((args, name))
            command = resolver.fold(_first_arg(args))
            if command in SHELLS:
                shell_spawns.append(call)
            elif command is not None and last.startswith("exec"):
                shell.analyze(command.encode("utf-8", "replace"), out, line(call) - 1)
        elif (name.startswith("fs.") and last in REMOVERS) or last == "rimraf":
            first = _first_arg(args)
            target = node_text(first) if first is not None else ""
            if "homedir()" in target or resolver.fold(first) in ("/", "~", "~/"):
                out.add("OSS-SCAN-032", line(call), f"{name}({target[:60]})")
        elif name.split(".")[0] in NETWORK_MODULES:
            sockets = sockets or name.startswith("net.")
            for host in _hosts(args, resolver):
                out.check_url(f"tcp://{host}", line(call))
        elif name in ("JSON.stringify", "Object.entries", "Object.keys", "Object.values"):
            first = _first_arg(args)
            if first is not None and node_text(first) == "process.env":
                out.add("OSS-SCAN-071", line(call), f"{name}(process.env)")

    for ctor in captures.get("ctor", []):
        name, hidden = resolver.name(ctor)
        if name == "Function" or (name.endswith(".Function") and name.split(".")[0] in GLOBALS):
            out.add("OSS-SCAN-002", line(ctor), "new Function(...) compiles text as code")
        elif name in ("vm.Script", "vm.SourceTextModule"):
            out.add("OSS-SCAN-002", line(ctor), f"new {name}(...) compiles text as code")
        if hidden and _sensitive(name):
            out.add("OSS-SCAN-010", line(ctor), f"constructor of a built name: {name}")
        sockets = sockets or name.startswith("net.")

    for subscript in captures.get("subscript", []):
        parent = subscript.parent
        if parent is not None and parent.type == "call_expression":
            continue  # calls were judged above
        name, hidden = resolver.name(subscript)
        if hidden and _sensitive(name):
            out.add("OSS-SCAN-010", line(subscript), f"member of a built name: {name}")

    for module, where in modules.items():
        if module in EXEC_MODULES:
            out.add("OSS-SCAN-004", line(where), f"uses {module}")

    for args, name in exec_sinks:
        if _decodes_base64(args):
            out.add("OSS-SCAN-013", line(args), f"decoded base64 passed to {name}")
    if shell_spawns and (sockets or "net" in modules):
        out.add("OSS-SCAN-060", line(shell_spawns[0]), "a shell spawned beside a raw socket")

    _strings(source, tree.root_node, captures.get("escape", []), out, line_offset)
    if tree.root_node.has_error:
        errors = captures.get("error", [])
        at = line(errors[0]) if errors else 1 + line_offset
        if whole_file:
            out.add("OSS-SCAN-095", at, "syntax errors: the unparsed parts get the text scan")


# A match may start on a literal's quote, which is a node of its own.
STRING_NODES = frozenset(
    {"string", "string_fragment", "template_string", "escape_sequence", '"', "'", "`"}
)


def _strings(
    source: Source, root: Node, escapes: list[Node], out: FileFindings, line_offset: int
) -> None:
    """Text rules, URLs and payloads in string literals; escaped sensitive names.

    The text rules run over the whole text (one RE2 pass); a match counts only where the
    syntax tree has a string literal or a region it could not parse, asked per match rather
    than listing every literal of a bundle."""

    def where(offset: int) -> int | None:
        byte = source.byte_of_char(offset)
        node = root.descendant_for_byte_range(byte, byte + 1)
        if node is None:
            return None
        # Text the parser could not read (an ERROR region) counts as well: the fallback scan.
        parent = node.parent
        if node.type not in STRING_NODES and not (
            node.type == "ERROR" or (parent is not None and parent.type == "ERROR")
        ):
            return None
        return source.line_of_byte(byte) + line_offset

    strings = {(n.start_byte, n.end_byte): n for n in (e.parent for e in escapes) if n is not None}
    for node in strings.values():
        if node.type != "string":
            continue
        body = node_text(node)[1:-1]
        value = unescape(body).lower()
        if value != body.lower() and (value in SENSITIVE_NAMES or "child_process" in value):
            out.add("OSS-SCAN-011", int(node.start_point[0]) + 1 + line_offset, repr(value))
    out.check_text("string", source.text, 1, where)
