"""Field errors a person can fix, and the cleaners of names and free text every form and the API share."""


MAX_NAME_LENGTH = 200


MAX_DESCRIPTION_LENGTH = 10_000


class ValidationError(ValueError):
    """Field errors a user can fix: `errors` maps a field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))
        self.errors = errors


def clean_name(value) -> str:
    """A name: non-empty text of at most MAX_NAME_LENGTH characters, trimmed."""
    if not isinstance(value, str):
        raise ValueError("Must be text.")
    if not value.strip():
        raise ValueError("A name is required.")
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"At most {MAX_NAME_LENGTH} characters.")
    return value


def clean_text(value) -> str:
    """Free text (a description), trimmed, of at most MAX_DESCRIPTION_LENGTH characters."""
    if not isinstance(value, str):
        raise ValueError("Must be text.")
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise ValueError(f"At most {MAX_DESCRIPTION_LENGTH} characters.")
    return value.strip()


def clean_fields(data: dict, cleaners: dict) -> dict:
    """Run each present field through its cleaner; collect every error at once."""
    cleaned, errors = {}, {}
    for field, cleaner in cleaners.items():
        if field not in data:
            continue
        try:
            cleaned[field] = cleaner(data[field])
        except ValueError as error:
            errors[field] = [str(error)]
    if errors:
        raise ValidationError(errors)
    return cleaned
