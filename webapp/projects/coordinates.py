"""A station's place: latitude and longitude in decimal degrees (WGS 84), both or neither.

The one home of these rules: the station form, the API and the exports ask here.
"""
import math

from ..numbers import parse_decimal

BOUNDS = {"latitude": 90, "longitude": 180}
# What an export says where a station has no coordinates and 0,0 stands in (Camtrap DP requires both).
PLACEHOLDER_NOTE = "Coordinates not set in ami-sessions; latitude 0, longitude 0 is a placeholder, not the station's place."


def clean_degrees(field: str, value) -> float | None:
    """A latitude or longitude sent as a number (None clears it), within ±90 or ±180 degrees."""
    if value is None:
        return None
    bound = BOUNDS[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"The {field} must be a number of decimal degrees (or null).")
    # JSON allows integers of any length and Python reads `Infinity` and `NaN`: compare before converting.
    if (isinstance(value, float) and not math.isfinite(value)) or not -bound <= value <= bound:
        raise ValueError(f"The {field} must be between -{bound} and {bound} degrees.")
    return float(value)


def clean_latitude(value) -> float | None:
    return clean_degrees("latitude", value)


def clean_longitude(value) -> float | None:
    return clean_degrees("longitude", value)


def degrees_from_text(field: str, text: str) -> float | None:
    """Degrees typed in a form ("50.85", "-4,35"): None when empty; ValueError when not a number.

    Read with the length limit of numbers.py; the range is checked by `clean_degrees`.
    """
    if not text.strip():
        return None
    number = parse_decimal(text)
    if number is None:
        raise ValueError(f"Enter the {field} in decimal degrees, for example {'50.8503' if field == 'latitude' else '4.3517'}.")
    return float(number)


def pair_errors(latitude: float | None, longitude: float | None) -> dict[str, list[str]]:
    """The field error when only one of the pair is set (a place needs both), else {}."""
    if (latitude is None) == (longitude is None):
        return {}
    missing = "longitude" if longitude is None else "latitude"
    other = "latitude" if missing == "longitude" else "longitude"
    return {missing: [f"Give the {missing} too, or clear the {other}: a station's place needs both."]}
