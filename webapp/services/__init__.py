"""Business logic. Services take models and plain values, never Flask request objects."""
