"""The package version, read by hatch and by the lab extension's install.json."""

__version__ = "0.1.0"
