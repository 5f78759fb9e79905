"""The one place hueyviz's version is defined (pyproject.toml reads it)."""
__version__ = "0.2.0.dev0"
