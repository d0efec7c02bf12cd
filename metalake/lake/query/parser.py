"""Parsing query text into a syntax tree with Lark (LALR), and syntax errors a user can act on.

The grammar is the one in `spec/query-language.md`. Keywords, `annotation` and `count` are
case-insensitive; a word that only starts like a keyword (`notes`, `counter`) stays a field name.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from lark import (
    Lark,
    Token,
    Transformer,
    Tree,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
)

from metalake.errors import InvalidQueryError
from metalake.lake.query.limits import (
    ALLOWED_CONTROL_CHARACTERS,
    MAX_DEPTH,
    MAX_IN_VALUES,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
)
from metalake.lake.query.syntax import (
    And,
    Comparison,
    Count,
    Exists,
    InList,
    Node,
    Not,
    Or,
    Path,
    Value,
    Within,
)

GRAMMAR = r"""
?start: expr

?expr: and_expr (_or and_expr)*       -> either
?and_expr: not_expr (_and not_expr)* -> both
?not_expr: _not not_expr             -> negation
         | atom
?atom: LPAR expr RPAR                -> group
     | ANNOTATION LPAR expr RPAR     -> within
     | COUNT LPAR [expr] RPAR cmp BARE -> count
     | path op value                 -> comparison
     | path IN LSQB value (COMMA value)* RSQB -> in_list
     | path EXISTS                   -> exists

_or: OR | OROR
_and: AND | ANDAND
_not: NOT | BANG
path: head (DOT segment)*
?head: NAME | ANNOTATION | COUNT
?segment: KEY | STRING
?value: BARE | STRING
op: EQ | NE | LT | LE | GT | GE | MATCH
cmp: EQ | NE | LT | LE | GT | GE

OR: /or(?![\w\-#\/:@+])/i
OROR: "||"
AND: /and(?![\w\-#\/:@+])/i
ANDAND: "&&"
NOT: /not(?![\w\-#\/:@+])/i
BANG: "!"
IN: /in(?![\w\-#\/:@+])/i
EXISTS: /exists(?![\w\-#\/:@+])/i
ANNOTATION: /annotation(?![\w\-#\/:@+])/i
COUNT: /count(?![\w\-#\/:@+])/i
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
COMMA: ","
DOT: "."
EQ: "="
NE: "!="
LT: "<"
LE: "<="
GT: ">"
GE: ">="
MATCH: "~"
NAME: /(?!(?:and|or|not|in|exists|annotation|count)(?![\w\-#\/:@+]))[\w\-#\/:@+]+/i
KEY: /[\w\-#\/:@+]+/i
BARE: /[\w\-.#\/:@+]+/i
STRING: /"(?:[^"\\]|\\["\\])*"/

%import common.WS
%ignore WS
"""

OPERATORS = {"EQ", "NE", "LT", "LE", "GT", "GE", "MATCH"}
VALUE_TERMINALS = {"BARE", "STRING"}
LEVELS = {"group", "negation", "within", "count", "comparison", "in_list", "exists"}
"""Parse-tree nodes that nest one level deeper (see `limits.MAX_DEPTH`)."""
TERMS = {"comparison", "in_list", "exists", "count"}
WORD_AT = re.compile(r'"(?:[^"\\]|\\.)*"?|[A-Za-z0-9_\-.#/:@+]+|!=|<=|>=|&&|\|\||\S')


def _column(token: Token) -> int:
    return (token.start_pos or 0) + 1


def _unquote(text: str) -> str:
    return re.sub(r"\\([\"\\])", r"\1", text[1:-1])


def _value(token: Token) -> Value:
    if token.type == "STRING":
        return Value(_unquote(token), True, _column(token))
    return Value(str(token), False, _column(token))


class _ToSyntax(Transformer):
    """Lark's parse tree to the nodes of `syntax`."""

    def either(self, children: list) -> Node:
        operands = tuple(c for c in children if not isinstance(c, Token))
        return operands[0] if len(operands) == 1 else Or(operands)

    def both(self, children: list) -> Node:
        operands = tuple(c for c in children if not isinstance(c, Token))
        return operands[0] if len(operands) == 1 else And(operands)

    def negation(self, children: list) -> Node:
        return Not(children[-1])

    def group(self, children: list) -> Node:
        return children[1]

    def within(self, children: list) -> Node:
        return Within(children[2], _column(children[0]))

    def count(self, children: list) -> Node:
        keyword, _, condition, _, op, number = children
        return Count(condition, op, _value(number), _column(keyword))

    def comparison(self, children: list) -> Node:
        path, op, value = children
        return Comparison(path, op, _value(value))

    def in_list(self, children: list) -> Node:
        values = tuple(_value(c) for c in children[2:-1] if c.type in VALUE_TERMINALS)
        return InList(children[0], values)

    def exists(self, children: list) -> Node:
        return Exists(children[0])

    def path(self, children: list[Token]) -> Path:
        parts = [_unquote(c) if c.type == "STRING" else str(c) for c in children if c.type != "DOT"]
        return Path(tuple(parts), _column(children[0]))

    def op(self, children: list[Token]) -> str:
        return str(children[0])

    cmp = op


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True)


def parse(query: str) -> Node | None:
    """The syntax tree of a query; None for an empty query (no restriction)."""
    if not isinstance(query, str):
        raise InvalidQueryError(f"query must be a string, not {type(query).__name__}")
    _check_text(query)
    if not query.strip():
        return None
    try:
        tree = _parser().parse(query)
    except UnexpectedInput as exc:
        raise InvalidQueryError(_syntax_message(query, exc)) from None
    _check_size(tree)
    return _ToSyntax().transform(tree)


def _check_text(query: str) -> None:
    """Refuse a query too long to parse cheaply, or holding characters no backend stores alike
    (NUL, other control characters, unpaired surrogates)."""
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidQueryError(
            f"query error: the query is {len(query):,} characters long; "
            f"at most {MAX_QUERY_LENGTH:,} are allowed"
        )
    for index, char in enumerate(query):
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") and char not in ALLOWED_CONTROL_CHARACTERS:
            kind = "an unpaired surrogate" if category == "Cs" else "the control character"
            raise InvalidQueryError(
                f"query error at column {index + 1}: the query holds {kind} U+{ord(char):04X}; "
                "remove it (only tab, newline and carriage return are allowed)"
            )


def _check_size(tree: Tree) -> None:
    """Refuse a parse tree past the depth, term or IN list limits, walking it without recursion
    so that the (recursive) transformer and compiler only ever see trees within the limits."""
    depth: dict[int, int] = {}
    terms = 0
    stack: list[tuple[Tree, bool]] = [(tree, False)]
    while stack:
        node, visited = stack.pop()
        subtrees = [c for c in node.children if isinstance(c, Tree)]
        if not visited:
            stack.append((node, True))
            stack.extend((c, False) for c in subtrees)
            continue
        level = max((depth.pop(id(c)) for c in subtrees), default=0)
        depth[id(node)] = level + (node.data in LEVELS)
        terms += node.data in TERMS
        if node.data == "in_list":
            values = sum(isinstance(c, Token) and c.type in VALUE_TERMINALS for c in node.children)
            if values > MAX_IN_VALUES:
                keyword = node.children[1]
                assert isinstance(keyword, Token)  # the grammar: path IN [value, ...]
                raise InvalidQueryError(
                    f"query error at column {_column(keyword)}: the IN list has "
                    f"{values:,} values; at most {MAX_IN_VALUES:,} are allowed"
                )
    if depth[id(tree)] > MAX_DEPTH:
        raise InvalidQueryError(
            f"query error: the query nests {depth[id(tree)]:,} levels deep; "
            f"at most {MAX_DEPTH} are allowed"
        )
    if terms > MAX_TERMS:
        raise InvalidQueryError(
            f"query error: the query has {terms:,} terms; at most {MAX_TERMS:,} are allowed"
        )


def _syntax_message(query: str, exc: UnexpectedInput) -> str:
    """`query error at column N: expected X after 'Y', found Z` for a query Lark refused."""
    position = exc.pos_in_stream if exc.pos_in_stream is not None else len(query)
    expected: set[str] = set()
    if isinstance(exc, UnexpectedToken):
        expected = set(exc.expected)
        if exc.token.type == "$END":
            position = len(query)
    elif isinstance(exc, UnexpectedCharacters):
        expected = set(exc.allowed or ())
    if position >= len(query) or not query[position:].strip():
        position, found = len(query), "end of query"
    else:
        found = _describe_found(query, position)
    before = query[:position].rstrip()
    after = f" after '{_last_word(before)}'" if before else ""
    words = WORD_AT.findall(before)
    in_list = words.count("[") > words.count("]")
    if in_list and not expected <= VALUE_TERMINALS | {"LSQB"}:
        wanted = "',' or ']'"
    else:
        wanted = _describe(expected, words.count("(") - words.count(")"))
    return f"query error at column {position + 1}: expected {wanted}{after}, found {found}"


def _describe_found(query: str, position: int) -> str:
    word = WORD_AT.match(query, position)
    text = word.group(0) if word else query[position]
    if text.startswith('"') and (len(text) == 1 or not text.endswith('"')):
        return "a string with no closing '\"'"
    if text.startswith('"') and re.search(r'\\[^"\\]', text):
        return 'a string with an unknown escape (only \\" and \\\\ are allowed)'
    return f"'{text}'"


def _last_word(before: str) -> str:
    words = WORD_AT.findall(before)
    return words[-1] if words else before[-1]


def _describe(expected: set[str], open_parentheses: int) -> str:
    """What the parser would have taken, in the user's words."""
    names = expected - {"$END"}
    if names == {"LSQB"}:
        return "'[' and a list of values"
    if names == {"BARE"}:
        return "a number"
    if names and names <= VALUE_TERMINALS | {"LSQB"}:
        return "a value"
    if names & OPERATORS and "MATCH" in names:
        return "an operator (=, !=, <, <=, >, >=, ~), IN or EXISTS"
    if names & OPERATORS:
        return "a comparison (=, !=, <, <=, >, >=) and a number"
    if "NAME" in names and "LPAR" in names:
        return "a field, '(' or NOT"
    if "KEY" in names or "STRING" in names:
        return "a field name"
    if names & {"AND", "OR", "RPAR"} or "$END" in expected:
        closing = "')'" if open_parentheses > 0 else "end of query"
        return f"AND, OR or {closing}"
    return " or ".join(sorted(names)) or "end of query"
