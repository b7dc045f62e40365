"""Domain errors raised by services; views and the API map them to answers.

- `TransitionNotAllowed` (API 409): the incident's state forbids the action.
- `StaleVersion` (API 412, forms show a conflict): someone changed it first.
- Bad input is Django's `ValidationError` (API 400, forms re-render).
- A role that may not act is Django's `PermissionDenied` (API 403).
"""


class DomainError(Exception):
    """Base of the errors services raise for refused operations."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransitionNotAllowed(DomainError):
    """The action is not allowed in the incident's current state."""

    def __init__(self, message: str, *, state: str, allowed: list[str]):
        super().__init__(message)
        self.state = state
        self.allowed = allowed


class StaleVersion(DomainError):
    """The caller's copy of the incident is older than the stored one."""

    def __init__(self, message: str, *, expected: int, current: int):
        super().__init__(message)
        self.expected = expected
        self.current = current
