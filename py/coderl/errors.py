"""Typed errors. Every message says what was wrong, where, and what to do about it."""


class CoderlError(Exception):
    """Base class: the CLI prints these as one clear line and exits non-zero (no traceback)."""

    exit_code = 2


class ConfigError(CoderlError):
    """A config file is missing, malformed, or holds a value of the wrong type or range."""


class DataError(CoderlError):
    """Input data is malformed, missing, or does not match its manifest."""


class SandboxUnavailable(CoderlError):
    """The execution backend cannot run code at all (an infrastructure failure, never a score)."""


class GenerationError(CoderlError):
    """The model server or generation backend failed (an infrastructure failure, never a score)."""


class InfrastructureError(CoderlError):
    """Too many infrastructure failures during a run: nothing was recorded as a model score."""


class TrainingError(CoderlError):
    """A training launch was refused or failed."""
