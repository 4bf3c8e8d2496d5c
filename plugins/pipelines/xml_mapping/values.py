"""Conversion of attribute text to column values, by the contract's ``data_type``.

Every converter takes the stripped, non-empty text (or a value an expression computed) and returns the
column value, or ``None`` when the text does not convert (an impossible date, a word in a number column):
a value that does not convert is NULL, never an exception.

What a conversion changes is counted, never silent: ``loss(data_type, data_length)`` tells, from a value and
what it converted to, whether the column holds less than the document said (``cut``, ``rounded``,
``time_dropped``); the mapper counts those, the values that did not convert at all (``unconvertible``) and the
codes a map does not know (``unmatched``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y", "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
)
_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d*)(\.\d*)?$")
_DIGITS = re.compile(r"\d")
# The ranges of the SQL Server types (PostgreSQL's are the same or wider), so a value too large for its
# column is NULL here rather than a refused batch.
INT_RANGES = {
    "tinyint": (0, 255), "smallint": (-32768, 32767), "int": (-2**31, 2**31 - 1), "bigint": (-2**63, 2**63 - 1),
}
_MIN_YEAR = 1753  # SQL Server DATETIME starts in 1753
#: Text that stands for no value: it makes no row and is no evidence of data.
MEANINGLESS_TEXT = frozenset({"", "null", "none"})


_ISO_LIKE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?)?$")
_US_LIKE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2}):(\d{2})(?: ?([AaPp][Mm]))?)?$")


@functools.lru_cache(maxsize=8192)
def parse_datetime(text: str) -> datetime | None:
    """A datetime from the formats the sources use; cached, as the same dates recur within a document and
    expressions compare them again and again."""
    text = text.strip()
    if not text or not text[0].isdigit():
        return None
    quick = _quick_datetime(text)
    if quick is not None:
        return quick
    return _slow_datetime(text)


def _quick_datetime(text: str) -> datetime | None:
    try:
        match = _ISO_LIKE.match(text)
        if match:
            year, month, day, hour, minute, second, fraction = match.groups()
            micro = int((fraction or "0").ljust(6, "0"))
            return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                            micro)
        match = _US_LIKE.match(text)
        if match:
            month, day, year, hour, minute, second, half = match.groups()
            hours = int(hour or 0)
            if half:
                if not 1 <= hours <= 12:
                    return None
                hours = hours % 12 + (12 if half.upper() == "PM" else 0)
            return datetime(int(year), int(month), int(day), hours, int(minute or 0), int(second or 0))
    except ValueError:  # an impossible date (February 30th) in a well-formed shape
        return None
    return None


def _slow_datetime(text: str) -> datetime | None:
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def to_decimal(value: Any) -> Decimal | None:
    """A number from text with optional sign, thousands separators and a currency sign."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    text = value.strip().lstrip("$").replace(" ", "")
    if text.startswith(("-$", "+$")):
        text = text[0] + text[2:]
    if not text or not _NUMBER.match(text) or not any(ch.isdigit() for ch in text):
        return None
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def digits_only(value: Any) -> str:
    """All the digits of the value concatenated (``$1,500.75`` -> ``150075``)."""
    return "".join(_DIGITS.findall(str(value)))


def _integer(data_type: str) -> Callable[[Any], int | None]:
    low, high = INT_RANGES[data_type]

    def convert(value: Any) -> int | None:
        number = to_decimal(value)
        if number is None:
            return None
        result = int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return result if low <= result <= high else None
    return convert


def _decimal(scale: int | None) -> Callable[[Any], Decimal | None]:
    quantum = Decimal(1).scaleb(-scale) if scale is not None and scale >= 0 else None

    def convert(value: Any) -> Decimal | None:
        number = to_decimal(value)
        if number is None or quantum is None:
            return number
        try:
            return number.quantize(quantum, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return None
    return convert


def _datetime(value: Any) -> datetime | None:
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    return moment if moment is not None and moment.year >= _MIN_YEAR else None


def _date(value: Any) -> date | None:
    moment = _datetime(value)
    return None if moment is None else moment.date()


_TRUE = {"1", "y", "yes", "true", "t"}
_FALSE = {"0", "n", "no", "false", "f"}


def _bit(value: Any) -> int | None:
    if isinstance(value, (int, Decimal)):
        return 1 if value else 0
    text = str(value).strip().lower()
    return 1 if text in _TRUE else 0 if text in _FALSE else None


def _string(length: int | None) -> Callable[[Any], str | None]:
    # data_length -1 means "no limit" (NVARCHAR(MAX)); the original cut the last character off instead.
    limit = length if length is not None and length > 0 else None

    def convert(value: Any) -> str | None:
        text = _as_text(value)
        if limit is not None:
            text = text[:limit].rstrip()
        return text or None
    return convert


def _as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return str(value).strip()


def converter(data_type: str, data_length: int | None) -> Callable[[Any], Any]:
    """The converter of one column type; ``data_type`` is checked by the contract loader."""
    if data_type in INT_RANGES:
        return _integer(data_type)
    if data_type == "decimal":
        return _decimal(data_length)
    if data_type == "datetime":
        return _datetime
    if data_type == "date":
        return _date
    if data_type == "bit":
        return _bit
    return _string(data_length)


DATA_TYPES = (*INT_RANGES, "decimal", "datetime", "date", "bit", "string")

# unmatched: a code an enum or bit map does not know (the column gets the map's default).
UNCONVERTIBLE, UNMATCHED, CUT, ROUNDED, TIME_DROPPED = "unconvertible", "unmatched", "cut", "rounded", "time_dropped"
LOSS_KINDS = (UNCONVERTIBLE, UNMATCHED, CUT, ROUNDED, TIME_DROPPED)
Loss = Callable[[Any, Any], "str | None"]


def loss(data_type: str, data_length: int | None) -> Loss | None:
    """What a converted value lost against the value it came from, as a kind of ``LOSS_KINDS`` (or None);
    ``None`` for the types whose conversion keeps everything it keeps at all (bit, datetime)."""
    if data_type in INT_RANGES or data_type == "decimal":
        return _rounded
    if data_type == "date":
        return _time_dropped
    if data_type == "string" and data_length is not None and data_length > 0:
        return _cut(data_length)
    return None


def _rounded(value: Any, converted: Any) -> str | None:
    number = to_decimal(value)
    return ROUNDED if number is not None and number != converted else None


def _time_dropped(value: Any, converted: date) -> str | None:
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    return TIME_DROPPED if moment is not None and moment.time() != datetime.min.time() else None


def _cut(limit: int) -> Loss:
    def lost(value: Any, converted: Any) -> str | None:
        # Trailing blanks the cut leaves at the end are not data: a value cut to its blanks only is no loss.
        return CUT if len(_as_text(value).rstrip()) > len(converted) else None
    return lost
