"""The errors narcis raises on purpose, one small tree.

    NarcisError
    ├── ConfigError       a setting is invalid (named by its variable)
    ├── UserInputError    the caller gave something we cannot use (bad file, bad value)
    │   └── NoFaceError   a photo has no usable face
    ├── ModelError        a model folder is missing or malformed
    ├── CapacityError     no room to do the work now (queue full, out of tokens)
    │   └── QueueBusy     the queue is not answering: retry the same request shortly
    ├── JobFailed         the work itself failed; carries a user-facing reason
    └── Cancelled         the caller asked a long operation to stop

Every message names the bad value, so an edge (CLI, HTTP, Gradio, Discord) can show it as-is.
"""


class NarcisError(Exception):
    """Base of every error narcis raises deliberately."""


class ConfigError(NarcisError):
    """A setting is invalid; the message names the environment variable."""


class UserInputError(NarcisError):
    """Input the caller can fix."""


class NoFaceError(UserInputError):
    """A photo has no face we can use."""


class ModelError(NarcisError):
    """A model folder is missing, incomplete or malformed."""


class CapacityError(NarcisError):
    """No capacity for the work right now."""


class QueueBusy(CapacityError):
    """The queue (Redis or the database) is not answering; nothing was done or charged."""


class JobFailed(NarcisError):
    """The work failed; the message is safe to show to a user."""


class Cancelled(NarcisError):
    """A long operation stopped because its caller asked it to."""
