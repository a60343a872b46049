"""Texts too close to one another: training data against a development set.

difflib's similarity ratio (``SequenceMatcher(autojunk=False).ratio()``: 2 M / (len a + len b),
M the characters in its matching blocks) for every pair of two lists would take minutes, so two
bounds of the ratio leave difflib few pairs: the characters two texts share (for every pair at
once, as sparse products of character counts), then their longest common subsequence (M is at
most that; bit-parallel, one integer operation a character). Neither bound is ever below the
ratio, so no close pair is missed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher

import numpy as np
from scipy import sparse

THRESHOLD = 0.7
"""A training text at or above this ratio to a development message is too close to it."""


def close_pairs(
    texts: Sequence[str], dev: Sequence[str], threshold: float = THRESHOLD
) -> dict[int, tuple[float, int]]:
    """For each text (by index) with a development message at or above the threshold: the
    highest ratio and that message's index. Compares the texts as given (lower-case them first
    to ignore case)."""
    if not texts or not dev:
        return {}
    alphabet = {char: n for n, char in enumerate(sorted({c for t in (*texts, *dev) for c in t}))}
    a, d = _counts(texts, alphabet), _counts(dev, alphabet)
    a_present, d_present = (a > 0).astype(np.float64), (d > 0).astype(np.float64)
    shared = (a @ d_present.T).minimum(a_present @ d.T).tocoo()
    lengths_a = np.array([len(t) for t in texts], dtype=np.float64)
    lengths_d = np.array([len(t) for t in dev], dtype=np.float64)
    bound = 2 * shared.data / (lengths_a[shared.row] + lengths_d[shared.col])
    keep = bound >= threshold
    masks_a: dict[int, dict[str, int]] = {}
    masks_d: dict[int, dict[str, int]] = {}
    found: dict[int, tuple[float, int]] = {}
    matcher = SequenceMatcher(autojunk=False)
    for i, j in zip(shared.row[keep].tolist(), shared.col[keep].tolist(), strict=True):
        text, message = texts[i], dev[j]
        if len(text) <= len(message):
            common = _lcs(text, _masks_of(masks_d, j, message), len(message))
        else:
            common = _lcs(message, _masks_of(masks_a, i, text), len(text))
        if 2 * common < threshold * (len(text) + len(message)):
            continue
        matcher.set_seqs(text, message)
        ratio = matcher.ratio()
        if ratio >= threshold and ratio > found.get(i, (0.0, -1))[0]:
            found[i] = (ratio, j)
    return found


def _counts(texts: Sequence[str], alphabet: dict[str, int]) -> sparse.csr_matrix:
    """Each text's character counts, one row a text."""
    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        for char, n in Counter(text).items():
            rows.append(i)
            cols.append(alphabet[char])
            values.append(n)
    shape = (len(texts), len(alphabet))
    return sparse.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)


def _masks_of(cache: dict[int, dict[str, int]], key: int, text: str) -> dict[str, int]:
    if key not in cache:
        cache[key] = _masks(text)
    return cache[key]


def _masks(text: str) -> dict[str, int]:
    """For each character of the text, the bits of its positions."""
    masks: dict[str, int] = {}
    for position, char in enumerate(text):
        masks[char] = masks.get(char, 0) | (1 << position)
    return masks


def _lcs(text: str, masks: dict[str, int], length: int) -> int:
    """The length of the longest common subsequence of ``text`` and the text of ``length``
    characters whose ``masks`` these are (Hyyrö's bit-parallel algorithm)."""
    full = (1 << length) - 1
    row = full
    for char in text:
        matched = row & masks.get(char, 0)
        row = ((row + matched) | (row - matched)) & full
    return length - row.bit_count()
