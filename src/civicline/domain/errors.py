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
