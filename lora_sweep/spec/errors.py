"""The one error a bad spec raises (its own module, so every spec checker can import it without a circle)."""


class SpecError(ValueError):
    """A bad spec: one line naming the key and what is allowed."""
