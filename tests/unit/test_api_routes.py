"""The case routes match disjoint requests, so the order they are included in does not matter."""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.routing import compile_path

from civicline.gateway.api.cases import (
    attachments,
    core,
    dossier,
    followup,
    handing,
    incidents,
    ownership,
    publication,
    supervision,
)
from civicline.handlers.case_actions import Action

NUMBER = "261127-00001"


def _action_route() -> APIRoute:
    found = [r for r in core.router.routes if isinstance(r, APIRoute) and "{action" in r.path]
    assert len(found) == 1
    return found[0]


def test_every_other_post_on_a_case_is_left_to_its_own_route() -> None:
    regex, _, _ = compile_path(_action_route().path)
    literals = {
        route.path.rsplit("/", 1)[1]
        for module in (
            core,
            followup,
            handing,
            supervision,
            ownership,
            dossier,
            attachments,
            incidents,
            publication,
        )
        for route in module.router.routes
        if isinstance(route, APIRoute)
        and "POST" in (route.methods or set())
        and route.path.count("/") == 2
        and "{" not in route.path.rsplit("/", 1)[1]
    }
    assert literals == set(core.OTHER_POSTS)
    for name in literals:
        assert regex.match(f"/{NUMBER}/{name}") is None, name


def test_the_action_route_takes_every_action_and_unknown_words() -> None:
    regex, _, _ = compile_path(_action_route().path)
    for action in Action:
        assert regex.match(f"/{NUMBER}/{action.value}") is not None
    # Refused by the action's validation (422), not by routing (404).
    assert regex.match(f"/{NUMBER}/frobnicate") is not None
    assert regex.match(f"/{NUMBER}/pauses") is not None
