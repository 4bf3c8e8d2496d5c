"""The contract's calculated-field language, parsed once into closures.

Grammar (keywords case-insensitive)::

    expr      := case | sum
    case      := CASE (WHEN cond THEN expr)+ [ELSE expr] END
    cond      := conj (OR conj)*
    conj      := neg (AND neg)*
    neg       := NOT neg | test
    test      := sum [(= | != | <> | < | <= | > | >=) sum | [NOT] LIKE sum | IS [NOT] (EMPTY | NULL)]
                 | '(' cond ')'
    sum       := product ((+ | -) product)*
    product   := unary ((* | /) unary)*
    unary     := - unary | atom
    atom      := number | 'string' | name[.name] | DATE('...') | DATEADD(day, sum, sum) | '(' expr ')' | case

A compiled expression is ``fn(scope) -> value``: ``scope(qualifier, attribute)`` (both in lower case) returns
the attribute's text (``None`` when absent). Values are ``str``, ``Decimal``, ``datetime`` or ``None``; the
caller converts the result to the column's type. Unlike the original (see the family's README): precedence
and parentheses are honoured, quoted literals keep their case, and a date compared with a quoted date string
is compared as a date.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.xml_mapping.values import parse_datetime

Scope = Callable[[str | None, str], str | None]
Compiled = Callable[[Scope], Any]


class ExpressionError(ValueError):
    """The expression does not parse; the message says where."""


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>\d+(?:\.\d+)?)
    | '(?P<string>(?:[^']|'')*)'
    | (?P<op><=|>=|!=|<>|[-+*/=<>(),])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
    )""", re.VERBOSE)
_KEYWORDS = {"CASE", "WHEN", "THEN", "ELSE", "END", "AND", "OR", "NOT", "IS", "EMPTY", "NULL", "LIKE"}
_COMPARATORS = {"=", "!=", "<>", "<", "<=", ">", ">="}


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "name" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        elif kind == "string":
            value = value.replace("''", "'")
        tokens.append((kind, value))
        pos = match.end()
    return tokens


# -- value semantics ---------------------------------------------------------------------------------------
def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_NUMERIC = re.compile(r"^\s*[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)\s*$")


def as_number(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    # A regex first: most values compared in conditions are codes, and a failed Decimal() is an exception.
    if isinstance(value, str) and _NUMERIC.match(value):
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return None
    return None


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return parse_datetime(value) if isinstance(value, str) else None


def compare(left: Any, right: Any) -> int | None:
    """-1/0/1, or None when the two cannot be compared (a missing value compares false with anything)."""
    if left is None or right is None:
        return None
    if isinstance(left, datetime) or isinstance(right, datetime):
        a, b = as_datetime(left), as_datetime(right)
    else:
        a, b = as_number(left), as_number(right)
        if a is None or b is None:
            a, b = as_datetime(left), as_datetime(right)
            if a is None or b is None:
                a, b = str(left).strip(), str(right).strip()
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


_COMPARE: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0, "!=": lambda c: c != 0, "<>": lambda c: c != 0,
    "<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0,
}


def like_pattern(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _either(first: Compiled, second: Compiled) -> Compiled:
    return lambda scope: first(scope) or second(scope)


def _both(first: Compiled, second: Compiled) -> Compiled:
    return lambda scope: first(scope) and second(scope)


def _compare_text(left: Compiled, literal: str, check: Callable[[int], bool]) -> Compiled:
    """``left <op> 'text'`` where the text is no number and no date: what ``compare`` would do, without trying."""
    def compared(scope: Scope) -> bool:
        value = left(scope)
        if value is None or isinstance(value, datetime):
            return False
        text = str(value).strip()
        return check((text > literal) - (text < literal))
    return compared


def _arith(op: str, a: Decimal, b: Decimal) -> Decimal | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b else None


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    # -- token helpers ---------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def at(self, kind: str, value: str | None = None, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token[0] == kind and (value is None or token[1] == value)

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            raise ExpressionError(f"expected {value or kind} but found {found} (token {self.pos + 1})")
        self.pos += 1
        return token[1]

    def parse(self) -> Compiled:
        node = self.expr()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} after the end of the expression "
                                  f"(token {self.pos + 1})")
        return node

    # -- grammar ---------------------------------------------------------------------------------------
    def expr(self) -> Compiled:
        return self.case() if self.at("kw", "CASE") else self.sum()

    def case(self) -> Compiled:
        self.take("kw", "CASE")
        branches: list[tuple[Compiled, Compiled]] = []
        while self.at("kw", "WHEN"):
            self.take("kw", "WHEN")
            cond = self.cond()
            self.take("kw", "THEN")
            branches.append((cond, self.expr()))
        if not branches:
            raise ExpressionError("CASE without WHEN")
        otherwise: Compiled | None = None
        if self.at("kw", "ELSE"):
            self.take("kw", "ELSE")
            otherwise = self.expr()
        self.take("kw", "END")

        def run(scope: Scope) -> Any:
            for test, result in branches:
                if test(scope):
                    return result(scope)
            return otherwise(scope) if otherwise is not None else None
        return run

    def cond(self) -> Compiled:
        parts = [self.conj()]
        while self.at("kw", "OR"):
            self.take("kw", "OR")
            parts.append(self.conj())
        return functools.reduce(_either, parts)

    def conj(self) -> Compiled:
        parts = [self.neg()]
        while self.at("kw", "AND"):
            self.take("kw", "AND")
            parts.append(self.neg())
        return functools.reduce(_both, parts)

    def neg(self) -> Compiled:
        if self.at("kw", "NOT"):
            self.take("kw", "NOT")
            inner = self.neg()
            return lambda scope: not inner(scope)
        return self.test()

    def _parenthesised_condition(self) -> bool:
        """Whether the '(' here opens a condition (it holds a comparison, LIKE, IS, AND or OR at depth 1)."""
        depth = 0
        for kind, value in self.tokens[self.pos:]:
            if kind == "op" and value == "(":
                depth += 1
            elif kind == "op" and value == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and ((kind == "op" and value in _COMPARATORS)
                                 or (kind == "kw" and value in {"AND", "OR", "LIKE", "IS", "NOT"})):
                return True
        return False

    def test(self) -> Compiled:
        if self.at("op", "(") and self._parenthesised_condition():
            self.take("op", "(")
            inner = self.cond()
            self.take("op", ")")
            return inner
        left = self.sum()
        token = self.peek()
        if token and token[0] == "op" and token[1] in _COMPARATORS:
            self.pos += 1
            literal = self.peek()
            right, check = self.sum(), _COMPARE[token[1]]
            if literal and literal[0] == "string" and self._is_plain_text(literal[1], self.pos - 1):
                return _compare_text(left, literal[1].strip(), check)

            def compared(scope: Scope) -> bool:
                result = compare(left(scope), right(scope))
                return result is not None and check(result)
            return compared
        negate = False
        if self.at("kw", "NOT") and self.at("kw", "LIKE", 1):
            self.take("kw", "NOT")
            negate = True
        if self.at("kw", "LIKE"):
            self.take("kw", "LIKE")
            return self._like(left, self.take("string"), negate)
        if self.at("kw", "IS"):
            self.take("kw", "IS")
            negate = self.at("kw", "NOT")
            if negate:
                self.take("kw", "NOT")
            what = self.take("kw")
            if what == "EMPTY":
                return (lambda scope: not is_empty(left(scope))) if negate else (lambda scope: is_empty(left(scope)))
            if what == "NULL":
                return (lambda scope: left(scope) is not None) if negate else (lambda scope: left(scope) is None)
            raise ExpressionError(f"expected EMPTY or NULL after IS but found {what!r}")
        raise ExpressionError(f"expected a condition but found {token[1] if token else 'the end'!r}")

    def _is_plain_text(self, text: str, index: int) -> bool:
        """A quoted literal that is neither a number nor a date, alone on the right of a comparison: the
        comparison is a plain text comparison, decided at compile time."""
        return (self.tokens[index] == ("string", text) and as_number(text) is None
                and parse_datetime(text) is None)

    @staticmethod
    def _like(left: Compiled, pattern: str, negate: bool) -> Compiled:
        regex = like_pattern(pattern)

        def run(scope: Scope) -> bool:
            value = left(scope)
            if value is None:
                return False
            return (regex.fullmatch(str(value).strip()) is None) == negate
        return run

    def sum(self) -> Compiled:
        node = self.product()
        while self.at("op", "+") or self.at("op", "-"):
            node = self._binary(node, self.take("op"), self.product())
        return node

    def product(self) -> Compiled:
        node = self.unary()
        while self.at("op", "*") or self.at("op", "/"):
            node = self._binary(node, self.take("op"), self.unary())
        return node

    @staticmethod
    def _binary(left: Compiled, op: str, right: Compiled) -> Compiled:
        def run(scope: Scope) -> Decimal | None:
            # Every referenced value must be present and numeric, else the result is NULL.
            a, b = as_number(left(scope)), as_number(right(scope))
            if a is None or b is None:
                return None
            return _arith(op, a, b)
        return run

    def unary(self) -> Compiled:
        if self.at("op", "-"):
            self.take("op", "-")
            inner = self.unary()

            def negated(scope: Scope) -> Decimal | None:
                value = as_number(inner(scope))
                return None if value is None else -value
            return negated
        return self.atom()

    def atom(self) -> Compiled:
        token = self.peek()
        if token is None:
            raise ExpressionError("the expression ends too early")
        kind, value = token
        if kind == "number":
            self.pos += 1
            number = Decimal(value)
            return lambda scope: number
        if kind == "string":
            self.pos += 1
            return lambda scope: value
        if kind == "kw" and value == "CASE":
            return self.case()
        if kind == "kw" and value == "NULL":
            self.pos += 1
            return lambda scope: None
        if kind == "op" and value == "(":
            self.pos += 1
            inner = self.expr()
            self.take("op", ")")
            return inner
        if kind == "name":
            if self.at("op", "(", 1):
                return self.function()
            self.pos += 1
            # Names match case-insensitively: resolved in lower case, once, here.
            qualifier, _, attribute = value.lower().rpartition(".")
            qualifier_or_none = qualifier or None
            return lambda scope: scope(qualifier_or_none, attribute)
        raise ExpressionError(f"unexpected {value!r} (token {self.pos + 1})")

    def function(self) -> Compiled:
        name = self.take("name").upper()
        self.take("op", "(")
        if name == "DATE":
            text = self.take("string")
            self.take("op", ")")
            moment = parse_datetime(text)
            if moment is None:
                raise ExpressionError(f"DATE({text!r}) is not a date")
            return lambda scope: moment
        if name == "DATEADD":
            unit = self.take("name").lower()
            if unit not in {"day", "dd", "d"}:
                raise ExpressionError(f"DATEADD supports days only, not {unit!r}")
            self.take("op", ",")
            amount = self.sum()
            self.take("op", ",")
            base = self.sum()
            self.take("op", ")")

            def dateadd(scope: Scope) -> datetime | None:
                days, start = as_number(amount(scope)), as_datetime(base(scope))
                if days is None or start is None:
                    return None
                try:
                    # A date, as the original's DATEADD gave (the time of day is dropped).
                    return (start + timedelta(days=int(days))).replace(hour=0, minute=0, second=0, microsecond=0)
                except OverflowError:
                    return None
            return dateadd
        raise ExpressionError(f"unknown function {name}()")


def compile_expression(text: str) -> Compiled:
    """The expression as a closure; ``ExpressionError`` when it does not parse."""
    if not text or not text.strip():
        raise ExpressionError("empty expression")
    return _Parser(text).parse()


def referenced_names(text: str) -> list[tuple[str | None, str]]:
    """(qualifier, attribute) of every name the expression reads (function names excluded)."""
    tokens = tokenize(text)
    names = []
    for index, (kind, value) in enumerate(tokens):
        if kind == "name" and not (index + 1 < len(tokens) and tokens[index + 1] == ("op", "(")):
            if index >= 2 and tokens[index - 1] == ("op", "(") and tokens[index - 2][1].upper() == "DATEADD":
                continue  # the unit of DATEADD(day, ...)
            qualifier, _, attribute = value.rpartition(".")
            names.append((qualifier or None, attribute))
    return names
