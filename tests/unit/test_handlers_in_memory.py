"""Handlers over the in-memory unit of work (tests/fakes/memory.py): sign-in and its lockout,
console sessions, case claims and canned replies, without a database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.claims import CannedReply, LockoutPolicy
from civicline.domain.errors import Claimed, InvalidInput, NotAllowed
from civicline.handlers import canned, case_actions, sessions, signin
from tests.fakes.memory import MemoryStore
from tests.support.factories import T0, case

POLICY = LockoutPolicy(max_failures=3, window=timedelta(minutes=15))


async def _staff(store: MemoryStore, *users: StaffUser) -> list[StaffUser]:
    async with store.uow() as uow:
        added = [await uow.staff.add(user) for user in users]
        await uow.commit()
    return added


async def _verify(stored_hash: str | None, password: str) -> bool:
    return stored_hash is not None and stored_hash == f"hash:{password}"


async def _sign_in(store: MemoryStore, password: str, minutes: int = 0) -> StaffUser:
    return await signin.authenticate(
        "li",
        password,
        client="10.0.0.1",
        uow_factory=store.uow,
        verify=_verify,
        now=T0 + timedelta(minutes=minutes),
        policy=POLICY,
    )


async def test_three_wrong_passwords_lock_the_name_even_for_the_right_one() -> None:
    store = MemoryStore()
    await _staff(store, StaffUser("li", "hash:secret", Role.STAFF, created_at=T0))
    assert (await _sign_in(store, "secret")).username == "li"
    for minute in range(3):
        with pytest.raises(signin.SignInRefused):
            await _sign_in(store, "guess", minute)
    with pytest.raises(signin.SignInRefused):
        await _sign_in(store, "secret", 5)
    assert (await _sign_in(store, "secret", 20)).username == "li"  # the lock ran out


async def test_a_session_is_found_by_its_token_until_it_ends() -> None:
    store = MemoryStore()
    [li] = await _staff(store, StaffUser("li", "h", Role.STAFF, created_at=T0))
    started = await sessions.start_session(li, uow=store.uow(), now=T0, ttl=timedelta(hours=8))
    found = await sessions.session_user(started.token, uow=store.uow(), now=T0)
    assert found is not None and found[1].username == "li"
    assert await sessions.session_user("other", uow=store.uow(), now=T0) is None
    later = T0 + timedelta(hours=9)
    assert await sessions.session_user(started.token, uow=store.uow(), now=later) is None
    await sessions.sign_out(started.token, uow=store.uow())
    assert await sessions.session_user(started.token, uow=store.uow(), now=T0) is None


async def test_one_claim_per_case_until_released() -> None:
    store = MemoryStore()
    li, zhao = await _staff(
        store,
        StaffUser("li", "h", Role.STAFF, created_at=T0, department="transport"),
        StaffUser("zhao", "h", Role.STAFF, created_at=T0, department="transport"),
    )
    async with store.uow() as uow:
        await uow.cases.add(case("261127-00001", 1, department="transport"))
        await uow.commit()
    claim = await case_actions.claim_case("261127-00001", user=li, uow=store.uow(), now=T0)
    assert claim.holder == "li"
    with pytest.raises(Claimed):
        await case_actions.claim_case("261127-00001", user=zhao, uow=store.uow(), now=T0)
    await case_actions.release_case("261127-00001", user=li, uow=store.uow())
    taken = await case_actions.claim_case("261127-00001", user=zhao, uow=store.uow(), now=T0)
    assert taken.holder == "zhao"


async def _save(
    store: MemoryStore, user: StaffUser, title: str, categories: set[str]
) -> CannedReply:
    return await canned.save_canned_reply(
        reply_id=None,
        category="roads",
        language="zh",
        title=title,
        text="已转交。",
        user=user,
        uow=store.uow(),
        known_categories=categories,
        now=T0,
    )


async def test_only_admins_edit_canned_replies_and_a_refusal_keeps_nothing() -> None:
    store = MemoryStore()
    admin, li = await _staff(
        store,
        StaffUser("root", "h", Role.ADMIN, created_at=T0),
        StaffUser("li", "h", Role.STAFF, created_at=T0),
    )
    with pytest.raises(NotAllowed):
        await _save(store, li, "道路", {"roads"})
    with pytest.raises(InvalidInput):
        await _save(store, admin, "道路", set())  # an unknown category
    assert await canned.canned_replies(uow=store.uow()) == []
    saved = await _save(store, admin, " 道路  维修 ", {"roads"})
    assert saved.title == "道路 维修"
    assert [r.id for r in await canned.canned_replies(uow=store.uow())] == [saved.id]
    assert await canned.canned_text("", str(saved.id), uow=store.uow()) == "已转交。"
