"""cliproxy: an LLM API proxy compatible with CLIProxyAPI's config and plugins."""

__version__ = "0.1.0"
