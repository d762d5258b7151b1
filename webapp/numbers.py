"""Numbers typed by people or sent by programs, read with a length limit and a
range check before any arithmetic, so no value can cost more than microseconds."""
import re
from decimal import Decimal

_WHOLE = re.compile(r"[+]?[0-9]{1,18}")
# At most a two-digit exponent: "1e999990" would let a few characters stand
# for a number with a million digits.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})(?:[eE][+-]?[0-9]{1,2})?")
MAX_NUMBER_TEXT = 40


def parse_whole(text, minimum: int, maximum: int) -> int | None:
    """A whole number written in `text` within [minimum, maximum], or None for anything else."""
    if not isinstance(text, str) or len(text) > MAX_NUMBER_TEXT:
        return None
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def parse_decimal(text) -> Decimal | None:
    """A decimal number ("1.5", "-3", ".25", "2e1"; "," as the decimal mark), or None.

    At most 15 digits on either side of the point and a two-digit exponent, so
    the result is always small to compute with.
    """
    if not isinstance(text, str) or len(text) > MAX_NUMBER_TEXT:
        return None
    text = text.strip().replace(",", ".")
    if not _DECIMAL.fullmatch(text):
        return None
    return Decimal(text)
