"""The topic rule language: parse a query string into a tree of nodes.

Syntax (what Google Alerts, Talkwalker and Meltwater users already write):

    facial recognition        two terms; adjacent terms are ANDed
    "facial recognition"      a phrase: the words consecutive, in one field
    facial-recognition        a hyphenated term is a phrase ("facial recognition")
    ban OR moratorium         either; OR binds tighter than AND, as in Google: a b OR c = a (b OR c)
    a AND b                   explicit AND
    NOT unlock, -unlock       exclusion: the story must not contain it anywhere
    ( ... )                   grouping
    ban*                      prefix wildcard (at least 3 characters before the *)
    clearview~  clearview~2   fuzzy: up to 1 (or 2) typing errors; words under 5 letters stay exact
    ends~0                    literal: this exact word, no inflections, no typo tolerance
    title:ban  title:(a OR b) only in the headline; summary:... only in the summary (lede)
    a NEAR/5 b                a and b within 5 words of each other, in one field, in either order
    @tech                     a named concept: the query defined once under `concepts:`
    NOT x NEAR/5 @tech        a scoped exclusion: excluded only when x is near the technology
    a # comment               from a # that starts a word to the end of the line

Precedence, tightest first: field prefix (title:), NEAR, NOT / -, OR, AND (explicit or implied).
So `a b OR c` is `a AND (b OR c)`, `NOT x NEAR/3 y` is `NOT (x NEAR/3 y)`, and
`-title:x` excludes x only when it is in the headline.

Operators are upper case; lower-case "or"/"and"/"not"/"near" are ordinary words. NEAR binds
tightest and its operands must be terms, phrases or OR groups of them (they need a position).
Terms match inflections ("ban" finds "bans", "banned", "banning"); see bot.matching.text.stem.

`parse(query)` returns the tree or raises QuerySyntaxError with the 0-based position of the fault.
`from_simple(any_of, all_of, none_of)` compiles the simple list form into a query string.
`render(node)` prints a node back in query syntax; `dump(node)` prints it as an s-expression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import QuerySyntaxError
from bot.matching.text import normalize, tokenize

MIN_PREFIX = 3  # "a*" would match half the dictionary
MIN_FUZZY_LEN = 5  # shorter words (ban, FRT, ICO) always match exactly
MAX_EDITS = 2
MAX_DEPTH = 100  # nesting levels ((, NOT, -, field:, NEAR chains); deeper would exhaust the stack
_FIELD = re.compile(r"(title|summary):")
_NEAR = re.compile(r"NEAR(?:/(.*))?")
_CONCEPT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


@dataclass(frozen=True, slots=True)
class Term:
    """One word. `kind`: "word" (inflections), "prefix" (wildcard), "fuzzy", "literal" (~0)."""

    word: str
    kind: str = "word"
    edits: int = -1  # fuzzy: allowed typing errors; -1: the matcher's default for the word length
    raw: str = ""  # as the admin wrote it


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive words in one field."""

    terms: tuple[Term, ...]
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Field:
    """The child, looked for only in one field of the story ("title" or "summary")."""

    name: str
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    """Both operands within `distance` words of each other (1 = adjacent), in one field."""

    left: Node
    right: Node
    distance: int


@dataclass(frozen=True, slots=True)
class Concept:
    """A named concept (`@name`): its definition, kept under its name for evidence and
    explanations ("ban", not 40 alternatives)."""

    name: str
    child: Node


Node = Term | Phrase | Field | And | Or | Not | Near | Concept


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # "(", ")", "AND", "OR", "NOT", "-", "NEAR", "FIELD", "TERM", "PHRASE", "EOF"
    text: str
    pos: int
    value: int = 0  # NEAR distance


def parse(query: str, concepts: Mapping[str, Node] | None = None) -> Node:
    """The tree of `query`; QuerySyntaxError (with position) when it does not parse.

    `concepts` are the named concepts `@name` may refer to (see `parse_concepts`)."""
    parser = _Parser(query, _lex(query), concepts or {})
    node = parser.parse_and()
    parser.expect_end()
    if not _has_positive(node):
        raise QuerySyntaxError("query only excludes: add a term to look for", 0, query)
    return node


class ConceptError(QuerySyntaxError):
    """A concept definition does not parse; `concept` names it, `position` is inside it."""

    def __init__(self, concept: str, error: QuerySyntaxError) -> None:
        super().__init__(f"in concept @{concept}: {error.message}", error.position, error.query)
        self.concept = concept


def parse_concepts(definitions: Mapping[str, str]) -> dict[str, Node]:
    """Each concept's tree. A concept may use concepts defined before it in `definitions`, so
    cycles cannot be written; ConceptError names the concept that does not parse."""
    parsed: dict[str, Node] = {}
    for name, text in definitions.items():
        if not _CONCEPT_NAME.fullmatch(name):
            raise ConceptError(
                name,
                QuerySyntaxError(
                    "a concept name is letters, digits and _, starting with a letter", 0, name
                ),
            )
        try:
            parsed[name] = parse(text, parsed)
        except QuerySyntaxError as error:
            raise ConceptError(name, error) from None
    return parsed


def from_simple(any_of: list[str], all_of: list[list[str]], none_of: list[str]) -> str:
    """The query string equivalent to the simple form: any of, each all-of group, none of."""
    parts = []
    if any_of:
        parts.append(_group(any_of))
    parts.extend(_group(group) for group in all_of if group)
    parts.extend(f"NOT {_quote(term)}" for term in none_of)
    return " AND ".join(parts)


def _group(terms: list[str]) -> str:
    return "(" + " OR ".join(_quote(term) for term in terms) + ")"


def _quote(term: str) -> str:
    # Multi-word entries are phrases; a single word keeps its wildcard/fuzzy suffix.
    term = term.strip().replace('"', "")
    return f'"{term}"' if " " in term else term


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char == "#":  # only reached at a word start, so "C#" stays a term
            newline = query.find("\n", i)
            i = len(query) if newline < 0 else newline
        elif char in "()":
            out.append(_Lexeme(char, char, i))
            i += 1
        elif char in '"\u201c\u201d':
            i = _lex_phrase(query, i, out)
        elif char == "-" and i + 1 < len(query) and not query[i + 1].isspace():
            out.append(_Lexeme("-", char, i))
            i += 1
        else:
            i = _lex_word(query, i, out)
    out.append(_Lexeme("EOF", "", len(query)))
    return out


def _lex_phrase(query: str, start: int, out: list[_Lexeme]) -> int:
    end = next((j for j in range(start + 1, len(query)) if query[j] in '"\u201c\u201d'), -1)
    if end < 0:
        raise QuerySyntaxError("unterminated quote", start, query)
    text = query[start + 1 : end]
    if not tokenize(normalize(text)):
        raise QuerySyntaxError("empty phrase", start, query)
    out.append(_Lexeme("PHRASE", text, start))
    return end + 1


def _lex_word(query: str, start: int, out: list[_Lexeme]) -> int:
    end = start
    while end < len(query) and not query[end].isspace() and query[end] not in '()"\u201c\u201d':
        end += 1
    text = query[start:end]
    if field := _FIELD.match(text):
        out.append(_Lexeme("FIELD", field.group(1), start))
        if len(text) == field.end():
            return end
        start, text = start + field.end(), text[field.end() :]
    if text in ("AND", "OR", "NOT"):
        out.append(_Lexeme(text, text, start))
    elif text.startswith("@"):
        out.append(_Lexeme("CONCEPT", text[1:], start))
    elif near := _NEAR.fullmatch(text):
        distance = near.group(1) or ""
        if not distance.isdigit() or int(distance) < 1:
            raise QuerySyntaxError("NEAR needs a distance of at least 1, e.g. NEAR/5", start, query)
        out.append(_Lexeme("NEAR", text, start, int(distance)))
    else:
        out.append(_Lexeme("TERM", text, start))
    return end


class _Parser:
    """Recursive descent over the lexemes; one method per grammar rule, loosest first."""

    def __init__(self, query: str, lexemes: list[_Lexeme], concepts: Mapping[str, Node]) -> None:
        self.query = query
        self.lexemes = lexemes
        self.concepts = concepts
        self.index = 0
        self.depth = 0  # nesting levels open around the lexeme being parsed

    def deeper(self, lexeme: _Lexeme, levels: int = 1) -> None:
        """More nesting levels (the caller closes them); an error past MAX_DEPTH."""
        self.depth += levels
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep: simplify the query", lexeme)

    @property
    def peek(self) -> _Lexeme:
        return self.lexemes[self.index]

    def advance(self) -> _Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def fail(self, message: str, lexeme: _Lexeme | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(message, (lexeme or self.peek).pos, self.query)

    def expect_end(self) -> None:
        if self.peek.kind == ")":
            raise self.fail("unbalanced ')': no '(' to close")
        if self.peek.kind != "EOF":
            raise self.fail(f"unexpected {self.peek.text!r}")

    def parse_and(self) -> Node:
        children = [self.parse_or()]
        while self.peek.kind not in ("EOF", ")"):
            if self.peek.kind == "AND":
                self.advance()
            children.append(self.parse_or())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_or(self) -> Node:
        children = [self.parse_unary()]
        while self.peek.kind == "OR":
            self.advance()
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_unary(self) -> Node:
        if self.peek.kind in ("NOT", "-"):
            operator = self.advance()
            if self.peek.kind in ("EOF", ")", "AND", "OR", "NEAR"):
                raise self.fail(f"{operator.text} needs something to exclude", operator)
            self.deeper(operator)
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        return self.parse_near()

    def parse_near(self) -> Node:
        start = self.peek
        node = self.parse_primary()
        chain = 0  # a NEAR chain nests to the left: (a NEAR b) NEAR c
        while self.peek.kind == "NEAR":
            operator = self.advance()
            self.deeper(operator)
            chain += 1
            right_start = self.peek
            right = self.parse_primary()
            for operand, where in ((node, start), (right, right_start)):
                if not _positional(operand):
                    raise self.fail(
                        "NEAR operands must be terms, phrases, or OR groups or concepts of them",
                        where,
                    )
            node = Near(node, right, operator.value)
        self.depth -= chain
        return node

    def parse_primary(self) -> Node:
        lexeme = self.peek
        if lexeme.kind == "FIELD":
            self.advance()
            self.deeper(lexeme)
            field = Field(lexeme.text, self.parse_primary())
            self.depth -= 1
            return field
        if lexeme.kind == "(":
            self.advance()
            if self.peek.kind == ")":
                raise self.fail("empty parentheses", lexeme)
            self.deeper(lexeme)
            node = self.parse_and()
            if self.peek.kind != ")":
                raise self.fail("unbalanced '(': missing ')'", lexeme)
            self.advance()
            self.depth -= 1
            return node
        if lexeme.kind == "CONCEPT":
            self.advance()
            if lexeme.text not in self.concepts:
                known = ", ".join(f"@{name}" for name in self.concepts) or "none defined"
                raise self.fail(f"unknown concept @{lexeme.text} (known: {known})", lexeme)
            definition = self.concepts[lexeme.text]
            levels = 1 + _depth(definition)  # its definition nests inside this reference
            self.deeper(lexeme, levels)
            self.depth -= levels
            return Concept(lexeme.text, definition)
        if lexeme.kind in ("TERM", "PHRASE"):
            self.advance()
            return (
                _phrase(lexeme, self.query)
                if lexeme.kind == "PHRASE"
                else _term(lexeme, self.query)
            )
        if lexeme.kind == "EOF":
            raise self.fail("query ends where a term was expected")
        raise self.fail(f"{lexeme.text!r} where a term was expected")


def _phrase(lexeme: _Lexeme, query: str) -> Term | Phrase:
    parts = lexeme.text.split()
    terms: list[Term] = []
    for part in parts:
        node = _term(_Lexeme("TERM", part, lexeme.pos), query)
        terms.extend(node.terms if isinstance(node, Phrase) else (node,))
    return terms[0] if len(terms) == 1 else Phrase(tuple(terms), lexeme.text)


def _term(lexeme: _Lexeme, query: str) -> Term | Phrase:
    """A bare word: its suffix (* or ~n) sets the kind; hyphenated words become a phrase."""
    text, kind, edits = lexeme.text, "word", -1
    if fuzzy := re.fullmatch(r"(.+?)~(\d*)", text):
        text, kind = fuzzy.group(1), "fuzzy"
        edits = int(fuzzy.group(2)) if fuzzy.group(2) else 1
        if edits > MAX_EDITS:
            raise QuerySyntaxError(f"fuzzy tolerance is 0 to {MAX_EDITS}", lexeme.pos, query)
        kind = "fuzzy" if edits else "literal"
    elif text.endswith("*"):
        text, kind = text[:-1], "prefix"
    if "*" in text or "~" in text:
        raise QuerySyntaxError("'*' and '~' may only end a term", lexeme.pos, query)
    parts = [token.text for token in tokenize(normalize(text))]
    if not parts:
        raise QuerySyntaxError(f"term {lexeme.text!r} has no letters or digits", lexeme.pos, query)
    if kind == "prefix" and len(parts[-1]) < MIN_PREFIX:
        raise QuerySyntaxError(
            f"wildcard needs at least {MIN_PREFIX} characters before '*'", lexeme.pos, query
        )
    terms = [Term(part, "word", -1, part) for part in parts[:-1]]
    terms.append(Term(parts[-1], kind, edits, lexeme.text))
    return terms[0] if len(terms) == 1 else Phrase(tuple(terms), lexeme.text)


def short_fuzzy_terms(node: Node) -> list[Term]:
    """Terms written with `~` that are too short to take a typing error: the `~` does nothing,
    which `newsbot check` says, since the admin likely expected tolerance."""
    if isinstance(node, Term):
        too_short = len(node.word) < MIN_FUZZY_LEN or not node.word.isalpha()
        return [node] if node.kind == "fuzzy" and too_short else []
    if isinstance(node, Phrase):
        return [term for term in node.terms for term in short_fuzzy_terms(term)]
    if isinstance(node, Field | Not | Concept):
        return short_fuzzy_terms(node.child)
    children = (node.left, node.right) if isinstance(node, Near) else node.children
    return [term for child in children for term in short_fuzzy_terms(child)]


def _depth(node: Node) -> int:
    """Nesting levels of a parsed tree (bounded by the parser, so recursing here is safe)."""
    if isinstance(node, Term | Phrase):
        return 0
    if isinstance(node, Not | Field | Concept):
        return 1 + _depth(node.child)
    children = (node.left, node.right) if isinstance(node, Near) else node.children
    return 1 + max(_depth(child) for child in children)


def _positional(node: Node) -> bool:
    if isinstance(node, Term | Phrase | Near):
        return True
    if isinstance(node, Field | Concept):
        return _positional(node.child)
    return isinstance(node, Or) and all(_positional(child) for child in node.children)


def _has_positive(node: Node) -> bool:
    if isinstance(node, Not):
        return False
    if isinstance(node, Field | Concept):
        return _has_positive(node.child)
    if isinstance(node, And):
        return any(_has_positive(child) for child in node.children)
    if isinstance(node, Or):
        return all(_has_positive(child) for child in node.children)
    return True


def render(node: Node) -> str:
    """`node` in query syntax (round-trips through `parse`)."""
    if isinstance(node, Term):
        return _render_term(node)
    if isinstance(node, Phrase):
        return '"' + " ".join(_render_term(term) for term in node.terms) + '"'
    if isinstance(node, Concept):
        return f"@{node.name}"
    if isinstance(node, Not):
        return f"NOT {render(node.child)}"
    if isinstance(node, Field):
        return f"{node.name}:{render(node.child)}"
    if isinstance(node, Near):
        return f"{render(node.left)} NEAR/{node.distance} {render(node.right)}"
    joiner = " OR " if isinstance(node, Or) else " AND "
    return "(" + joiner.join(render(child) for child in node.children) + ")"


def _render_term(term: Term) -> str:
    if term.kind == "prefix":
        return f"{term.word}*"
    if term.kind in ("fuzzy", "literal"):
        return f"{term.word}~{max(term.edits, 0)}"
    return term.word


def dump(node: Node) -> str:
    """`node` as an s-expression, e.g. `(and ban (or law "facial recognition"))`; for tests."""
    if isinstance(node, Term | Phrase | Concept):
        return render(node)
    if isinstance(node, Field):
        return f"({node.name}: {dump(node.child)})"
    if isinstance(node, Not):
        return f"(not {dump(node.child)})"
    if isinstance(node, Near):
        return f"(near/{node.distance} {dump(node.left)} {dump(node.right)})"
    name = "or" if isinstance(node, Or) else "and"
    return f"({name} " + " ".join(dump(child) for child in node.children) + ")"
