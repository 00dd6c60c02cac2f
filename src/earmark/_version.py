"""earmark's version: one number, in a module that imports nothing (earmark --version, every model file)."""

__version__ = "0.1.0"
