"""Filling a test database's units and departments from a taxonomy, as start-up does."""

from __future__ import annotations

from civicline.domain.taxonomy import Taxonomy
from civicline.storage.base import UnitOfWork


async def sync_taxonomy(u: UnitOfWork, taxonomy: Taxonomy) -> None:
    """The taxonomy's units (parents first) and then its departments, in ``u``'s transaction."""
    if taxonomy.units is not None:
        await u.units.sync(taxonomy.units)
    await u.departments.sync(list(taxonomy.departments.values()))
