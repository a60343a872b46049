"""Errors the business rules raise; the gateway maps each to a clear 4xx answer."""


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""


class IllegalTransition(DomainError):
    def __init__(self, number: str, current: str, target: str) -> None:
        super().__init__(f"case {number} cannot go from {current} to {target}")
        self.number = number
        self.current = current
        self.target = target


class NotFound(DomainError):
    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key} not found")
        self.what = what
        self.key = key


class InvalidInput(DomainError):
    """A value that breaks a business rule (unknown department, empty reason, …)."""


class NotAllowed(DomainError):
    """The user's role or department does not allow this on that case."""


class Claimed(DomainError):
    """Someone else is answering the case (holds a live claim), or the user must claim it
    first: two people never answer the same case."""

    def __init__(self, number: str, holder: str | None) -> None:
        super().__init__(
            f"case {number} is being handled by {holder}"
            if holder
            else f"claim case {number} before answering or acting on it"
        )
        self.number = number
        self.holder = holder


class AlreadyStored(DomainError):
    """A row that must be unique was written by someone else at the same moment (the same
    registration id, the same person's ID number): read it back instead of writing it again."""

    def __init__(self, what: str) -> None:
        super().__init__(f"this {what} was stored at the same moment by another request")
        self.what = what
