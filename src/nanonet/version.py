"""nanonet's version, in a module of its own so the CLI can print it without
importing the public facade (``nanonet/__init__.py`` re-exports it)."""

__version__ = "0.1.0"
