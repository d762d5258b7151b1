"""Text helpers shared by models and the domain packages; pure (no Flask, no database)."""
import unicodedata


def search_key(text: str | None) -> str:
    """The form of a name that searches compare: case and accents removed.

    "Étang-Nord", "etang-nord" and "ÉTANG-NORD" share one key. Stored beside
    the name (`Deployment.search_name`) because SQLite and PostgreSQL fold
    case and accents differently (SQLite's LIKE ignores case for ASCII only,
    PostgreSQL's not at all), so matching happens on this column in both.
    """
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))
