"""The package version: the single source hatchling reads (`[tool.hatch.version]`)."""

__version__ = "0.1.0"
