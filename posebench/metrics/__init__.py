"""posebench component."""
