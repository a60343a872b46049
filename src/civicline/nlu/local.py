"""The local classifier: a gate, then the category and its sub-category, on shared TF-IDF features.

Three decisions, each a linear model on one set of features (character 1-3-grams, and jieba
words and word pairs, sublinear TF-IDF, of the first ``base.MAX_CHARS`` characters):

1. **The gate**: is this a complaint or request to the government at all? Trained on every
   complaint against every example that is not one (greetings, thanks, questions about the
   service, and the negatives of ``training/not_complaint.yml``: assistant requests, shopping,
   chit-chat, spam). Its threshold is chosen at training time from out-of-fold probabilities so
   that at most ``GATE_MISS`` of the training complaints would be turned away: when the gate is
   unsure, the text is a complaint (it opens a case, in triage if the category is unsure too).
2. **The category** among the city's categories: a linear SVM mixed with complement naive
   Bayes (``mixed``), its probabilities a softmax with one temperature fitted on held-out
   decisions (folds that keep each sub-category whole, so that they are those of texts worded
   unlike the training examples), shifted from the training data's class mix to the city's
   (``priors``: the taxonomy's shares; once the city has imported its own tickets, their mix,
   ``history_priors``), so that rare categories (纪检监察, 组织人事, 党务政务) do
   not collect the doubtful cases. Below the gateway's routing threshold a case goes to triage.
3. **The sub-category** within that category (one model per category, from the examples that
   name one), which decides the department where the taxonomy routes it elsewhere.

What is not a complaint gets the best of the conversation intents (greet, thanks, status_query,
help, feedback, out_of_scope).

The arithmetic of classifying is done here on the fitted coefficients (two sparse transforms,
sparse-dense products and sigmoids), without scikit-learn's per-call checks. Cached models are
pickles (the highest protocol; joblib's own format took 7 times as long to load, about 10 s a
model, at every start of a gateway or worker): load them only from a directory this service
owns.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import pickle
import re
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rjieba
import sklearn
from scipy import sparse
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from civicline.domain.batching import Batcher
from civicline.nlu.base import CONVERSATION_INTENTS, MAX_RANKING, Classification, bounded
from civicline.nlu.files import atomic_writer
from civicline.nlu.training_data import Example, load_data

log = logging.getLogger(__name__)

MODEL_REVISION = 8
"""Part of the cache file name: bump it when training changes so cached models retrain."""

GATE_MISS = 0.005
"""The share of training complaints (out of fold) the gate may turn away; the threshold is the
lowest that does so, and never above ``MAX_GATE_THRESHOLD``."""
MAX_GATE_THRESHOLD = 0.5
GATE_MISS_SHORT = 0.01
SHORT_CHARS = 30
CALIBRATION_FOLDS = 3
PRIOR_WEIGHT = 0.5
"""How far the category probabilities move from the training data's mix to the city's: half
way (in log terms). Neither mix is sure (the shares are a typical city's, and the training
data's mix is what people wrote); on the development set the full shift cost 4 points of
macro-F1 on the rare categories, and none at all leaves a city with its rare categories
collecting doubtful cases."""
HISTORY_PSEUDO_TICKETS = 100
"""When the city has imported its own tickets, its priors are their mix, smoothed towards the
taxonomy's shares as if those were this many tickets more: with a few dozen tickets the shares
still count, with thousands the history decides, and a category the history never has keeps a
small prior (reachable by a text that names it clearly, not where doubt goes)."""
HISTORY_PRIOR_WEIGHT = 0.5
"""How far the probabilities move towards the history's priors (as ``PRIOR_WEIGHT``)."""
HOLD_OUT_FROM = 3000
"""From this many examples on, the sigmoids are fitted on one held-out third rather than on
out-of-fold scores of every example."""
SVM_C = 0.5
GATE_C = (0.5, 1.0, 2.0, 4.0, 8.0)
"""The gate's C is chosen among these at training time (``_fit_gate``). On the shipped data
of 2026-12-07, out of fold, C 0.5 let 16 % of the non-complaints through at the threshold
that keeps 99.5 % of the complaints (99 % of the short ones), C 4 12.7 %."""
NB_WEIGHT = 0.3
NB_ALPHA = 0.3

Array = np.ndarray[Any, Any]


_WORDLIKE = re.compile(r"\w")


def jieba_words(text: str) -> list[str]:
    """jieba's words (without its HMM for unknown words: faster, and the character n-grams
    cover those), lower-cased, punctuation and spaces left out.

    Cut by jieba-rs (``rjieba``: jieba's dictionary and algorithm in Rust, the same words as
    ``jieba.lcut(text, HMM=False)`` and twenty times faster; jieba was almost half of a
    classification's time)."""
    try:
        words = rjieba.cut(text, hmm=False)
    except UnicodeEncodeError:  # lone surrogates (from JSON escapes): pairs joined, others U+FFFD
        words = rjieba.cut(
            text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"), hmm=False
        )
    return [w.lower() for w in words if _WORDLIKE.search(w)]


def _vectorizers(min_df: int) -> list[TfidfVectorizer]:
    return [
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=min_df),
        TfidfVectorizer(
            tokenizer=jieba_words,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=min_df,
        ),
    ]


_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's character analyzer folds them
_CHAR_BITS = 14
"""Bits of a character's index in the character n-grams' alphabet: keys of up to four
characters fit in 56 bits, with the n-gram's length above them."""
_UNICODE = 0x110000


@dataclass(slots=True)
class CharGrams:
    """A fitted character n-gram vocabulary as sorted integer keys: each character of the
    vocabulary's alphabet gets an index (0: any other character), an n-gram the indexes of its
    characters side by side and its length above them. One text's n-grams are then counted and
    looked up with a few numpy operations instead of a dictionary look-up per n-gram (the
    strings' hashing and comparing were half of a classification's time)."""

    alphabet: Array  # code point -> index (uint16), 0 for characters outside the vocabulary
    keys: Array  # sorted uint64
    columns: Array  # the vocabulary's column of each key
    lengths: range

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer) -> CharGrams | None:
        """The keys of a character vectorizer's vocabulary; None when its alphabet or n-gram
        lengths do not fit the keys (the dictionary look-up then serves)."""
        low, high = vectorizer.ngram_range
        if vectorizer.analyzer != "char" or high > 4 or not vectorizer.lowercase:
            return None
        terms = vectorizer.vocabulary_
        characters = sorted({c for term in terms for c in term})
        if len(characters) >= 1 << _CHAR_BITS:
            return None
        alphabet = np.zeros(_UNICODE, dtype=np.uint16)
        alphabet[[ord(c) for c in characters]] = np.arange(1, len(characters) + 1)
        index = {c: i for i, c in enumerate(characters, start=1)}
        keys = np.fromiter(
            (_key([index[c] for c in term]) for term in terms), dtype=np.uint64, count=len(terms)
        )
        columns = np.fromiter(terms.values(), dtype=np.int64, count=len(terms))
        order = np.argsort(keys)
        return cls(alphabet, keys[order], columns[order], range(low, high + 1))

    def count(self, text: str) -> tuple[Array, Array]:
        """The vocabulary columns of the text's n-grams and how often each occurs."""
        text = _WHITE_SPACES.sub(" ", text.lower())
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        chars = self.alphabet[codes].astype(np.uint64)
        parts = []
        grams = np.zeros(len(chars), dtype=np.uint64)
        for n in range(1, self.lengths.stop):
            # grams[i] holds the n characters from i on
            grams = (grams[: len(chars) - n + 1] << np.uint64(_CHAR_BITS)) | chars[n - 1 :]
            if n in self.lengths:
                parts.append(grams | np.uint64(n << (4 * _CHAR_BITS)))
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        found, counts = np.unique(np.concatenate(parts), return_counts=True)
        at = np.searchsorted(self.keys, found).clip(max=len(self.keys) - 1)
        known = self.keys[at] == found
        return self.columns[at[known]], counts[known]


def _key(indexes: Sequence[int]) -> int:
    key = 0
    for i in indexes:
        key = (key << _CHAR_BITS) | i
    return key | (len(indexes) << (4 * _CHAR_BITS))


@dataclass(slots=True)
class Features:
    """The fitted vectorizers' vocabularies and IDF weights, applied without scikit-learn's
    per-call checks (which cost more than the sums for one text)."""

    vectorizers: list[TfidfVectorizer]
    _analyzers: list[Callable[[str], list[str]]] = field(default_factory=list)
    _grams: list[CharGrams | None] = field(default_factory=list)
    _offsets: list[int] = field(default_factory=list)
    width: int = 0

    @classmethod
    def fit(cls, texts: Sequence[str]) -> tuple[Features, sparse.csr_matrix]:
        # min_df 2 drops the n-grams of one example only (most of them) once there is data.
        vectorizers = _vectorizers(min_df=2 if len(texts) >= 500 else 1)
        parts = [v.fit_transform(texts) for v in vectorizers]
        return cls(vectorizers), sparse.hstack(parts, format="csr")

    def __post_init__(self) -> None:
        self.prepare()

    def prepare(self, grams: list[CharGrams | None] | None = None) -> None:
        self._analyzers = [v.build_analyzer() for v in self.vectorizers]
        self._grams = grams if grams is not None else [CharGrams.of(v) for v in self.vectorizers]
        sizes = [len(v.vocabulary_) for v in self.vectorizers]
        self._offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self.width = sum(sizes)

    def __getstate__(self) -> dict[str, Any]:
        # The n-gram keys are saved with the model: building them again is a Python loop over
        # the whole vocabulary (over a second a load).
        return {"vectorizers": self.vectorizers, "grams": self._grams}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.vectorizers = state["vectorizers"]
        self.prepare(state.get("grams"))

    def vector(self, text: str) -> tuple[Array, Array]:
        """One text's sublinear TF-IDF (columns, weights), each vectorizer's part L2-normalised,
        as ``TfidfVectorizer.transform`` computes it."""
        columns_parts, weights_parts = [], []
        for vectorizer, analyze, grams, offset in zip(
            self.vectorizers, self._analyzers, self._grams, self._offsets, strict=True
        ):
            if grams is not None:
                columns, counts = grams.count(text)
                if not len(columns):
                    continue
            else:
                vocabulary = vectorizer.vocabulary_
                counted = Counter(map(vocabulary.get, analyze(text)))
                counted.pop(None, None)
                if not counted:
                    continue
                columns = np.fromiter(counted.keys(), dtype=np.int64, count=len(counted))
                counts = np.fromiter(counted.values(), dtype=float, count=len(counted))
            weights = (np.log(counts) + 1.0) * vectorizer.idf_[columns]
            weights /= np.sqrt(weights @ weights)
            columns_parts.append(columns + offset)
            weights_parts.append(weights)
        if not columns_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(columns_parts), np.concatenate(weights_parts)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        vectors = [self.vector(text) for text in texts]
        pointers = np.cumsum([0, *(len(columns) for columns, _ in vectors)])
        return sparse.csr_matrix(
            (
                np.concatenate([weights for _, weights in vectors] or [np.zeros(0)]),
                np.concatenate([columns for columns, _ in vectors] or [np.zeros(0, np.int64)]),
                pointers,
            ),
            shape=(len(texts), self.width),
        )


@dataclass(slots=True)
class Head:
    """A linear model's sums and, when calibrated, a sigmoid (Platt scaling, two classes) or a
    temperature (a softmax of the scaled sums, more classes)."""

    classes: tuple[str, ...]
    coef: Array  # features x classes (one column for two classes: the second one's score)
    intercept: Array
    a: Array | None = None
    b: Array | None = None
    temperature: float | None = None
    nb: Array | None = None
    """Features x classes: a complement naive Bayes model's weights, mixed in (``mixed``)."""

    def decision(self, x: sparse.csr_matrix) -> Array:
        result: Array = np.asarray(x @ self.coef) + self.intercept
        if self.nb is not None:
            return mixed(result, np.asarray(x @ self.nb))
        return result

    def proba(self, x: sparse.csr_matrix) -> Array:
        """Calibrated probabilities, rows summing to 1 (softmax of the scores if uncalibrated)."""
        return self.proba_of(self.decision(x))

    def proba_of(self, decision: Array) -> Array:
        if self.temperature is not None:
            return softmax(decision / self.temperature)
        if self.a is None or self.b is None:
            if decision.shape[1] == 1:
                decision = np.hstack([-decision, decision])
            return softmax(decision)
        p = expit(decision * self.a + self.b)
        if p.shape[1] == 1:
            return np.hstack([1 - p, p])
        total = p.sum(axis=1, keepdims=True)
        uniform = np.full_like(p, 1 / p.shape[1])
        normalised: Array = np.divide(p, total, out=uniform, where=total != 0)
        return normalised


def _standardised(scores: Array) -> Array:
    centred = scores - scores.mean(axis=1, keepdims=True)
    result: Array = centred / (centred.std(axis=1, keepdims=True) + 1e-12)
    return result


def mixed(svm: Array, nb: Array) -> Array:
    """The SVM's sums and naive Bayes' log-likelihoods, each standardised across the classes
    of a text, added with weight ``NB_WEIGHT`` for naive Bayes: the two err on different
    texts (naive Bayes reads rare, telling words more boldly), and together were about a
    point of macro-F1 better than either in cross-validation."""
    return _standardised(svm) + NB_WEIGHT * _standardised(nb)


def softmax(scores: Array) -> Array:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    result: Array = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def _svm(class_weight: str | None = None, c: float | None = None) -> LinearSVC:
    return LinearSVC(C=SVM_C if c is None else c, class_weight=class_weight, random_state=0)


@dataclass(frozen=True, slots=True)
class Held:
    """Examples the calibration held out: their labels and their calibrated probabilities
    (columns in the head's class order)."""

    labels: Array
    proba: Array
    rows: Array  # which of the training examples, in order


def fit_head(
    x: sparse.csr_matrix,
    labels: Sequence[str],
    *,
    calibrate: bool = True,
    class_weight: str | None = None,
    groups: Sequence[str] | None = None,
    naive_bayes: bool = False,
    every_fold: bool = False,
    c: float | None = None,
) -> tuple[Head, Held | None]:
    """A linear SVM on ``x`` (with ``naive_bayes``, mixed with complement naive Bayes); with
    ``calibrate``, a sigmoid or temperature fitted on held-out scores (``groups`` kept whole;
    from ``HOLD_OUT_FROM`` examples on, one held-out third of them unless ``every_fold``).
    ``c``: the SVM's C (default ``SVM_C``).

    Returns the head and, when calibrated, the held-out labels and probabilities."""
    with warnings.catch_warnings():
        # A sub-category model often has many classes over few examples, which scikit-learn
        # warns "could be a regression problem".
        warnings.filterwarnings("ignore", message="The number of unique classes")
        return _fit_head(
            x,
            labels,
            calibrate=calibrate,
            class_weight=class_weight,
            groups=groups,
            naive_bayes=naive_bayes,
            every_fold=every_fold,
            c=c,
        )


def _fit_head(
    x: sparse.csr_matrix,
    labels: Sequence[str],
    *,
    calibrate: bool,
    class_weight: str | None,
    groups: Sequence[str] | None,
    naive_bayes: bool,
    every_fold: bool = False,
    c: float | None = None,
) -> tuple[Head, Held | None]:
    y = np.asarray(labels)
    classes = tuple(str(c) for c in np.unique(y))
    if len(classes) == 1:
        return Head(classes, np.zeros((x.shape[1], 1)), np.zeros(1)), None
    naive_bayes = naive_bayes and len(classes) > 2
    head = _fitted(x, y, class_weight, naive_bayes, c)
    folds = min(CALIBRATION_FOLDS, min(Counter(labels).values()))
    if not calibrate or folds < 2:
        return head, None
    splits = list(_splitter(folds, groups).split(np.zeros(len(y)), y, groups))
    if len(y) >= HOLD_OUT_FROM and not every_fold:  # one held-out third: a third of the cost
        splits = splits[:1] if folds == 3 else list(_splitter(3, groups).split(x, y, groups))[:1]
    rows = np.concatenate([held for _, held in splits])
    scores = np.vstack(
        [
            _fitted(x[kept], y[kept], class_weight, naive_bayes, c)
            .decision(x[held])
            .reshape(len(held), -1)
            for kept, held in splits
        ]
    )
    y = y[rows]
    if scores.shape[1] > 1:
        # One temperature for all classes: the probabilities rank the classes as the sums do.
        # A sigmoid per class (and their normalised products) reorders them, which cost about
        # a point of macro-F1 and of accuracy in cross-validation.
        truth = np.searchsorted(np.asarray(classes), y)
        head.temperature = temperature(scores, truth)
        return head, Held(y, head.proba_of(scores), rows)
    targets = [y == classes[1]]
    a, b = np.zeros(scores.shape[1]), np.zeros(scores.shape[1])
    for column, target in enumerate(targets):
        a[column], b[column] = platt(scores[:, column], target)
    head.a, head.b = a, b
    return head, Held(y, head.proba_of(scores), rows)


def _fitted(
    x: sparse.csr_matrix,
    y: Array,
    class_weight: str | None,
    naive_bayes: bool,
    c: float | None = None,
) -> Head:
    svm = _svm(class_weight, c).fit(x, y)
    head = Head(tuple(str(c) for c in svm.classes_), np.asarray(svm.coef_.T), svm.intercept_)
    if naive_bayes:
        head.nb = np.asarray(ComplementNB(alpha=NB_ALPHA).fit(x, y).feature_log_prob_.T)
    return head


def temperature(scores: Array, truth: Array) -> float:
    """The ``T`` of ``softmax(scores / T)`` with the least log loss of the true classes
    (``truth``: column indices), by golden-section search on log T."""

    def loss(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z[np.arange(len(truth)), truth] - np.log(np.exp(z).sum(axis=1))
        return float(-log_p.mean())

    low, high = math.log(0.01), math.log(10.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        left, right = high - ratio * (high - low), low + ratio * (high - low)
        if loss(left) < loss(right):
            high = right
        else:
            low = left
    return math.exp((low + high) / 2)


def _splitter(folds: int, groups: Sequence[str] | None) -> StratifiedKFold:
    """Folds for held-out scores; with ``groups``, a group's examples stay in one fold."""
    if groups is None:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)


def platt(scores: Array, target: Array, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling: ``a, b`` of ``P = expit(a * score + b)`` by Newton's method on the log
    loss, against Platt's smoothed targets (as scikit-learn's sigmoid calibration)."""
    positives = float(np.sum(target))
    negatives = len(target) - positives
    t = np.where(target, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a: float, b: float) -> float:
        z = a * scores + b
        return float(np.sum(np.logaddexp(0, z) - t * z))

    a, b = 1.0, float(np.log((positives + 1) / (negatives + 1)))
    current = loss(a, b)
    for _ in range(iterations):
        p = expit(a * scores + b)
        w = np.maximum(p * (1 - p), 1e-12)
        gradient = np.array([np.dot(p - t, scores), np.sum(p - t)])
        hessian = np.array(
            [[np.dot(w, scores * scores), np.dot(w, scores)], [np.dot(w, scores), np.sum(w)]]
        )
        step = np.linalg.solve(hessian + np.eye(2) * 1e-9, gradient)
        size = 1.0
        while size > 1e-6 and loss(a - size * step[0], b - size * step[1]) > current:
            size /= 2  # a Newton step that overshoots is shortened
        a, b = a - size * float(step[0]), b - size * float(step[1])
        previous, current = current, loss(a, b)
        if previous - current < 1e-10 * max(1.0, abs(current)):
            break
    return a, b


@dataclass(slots=True)
class LocalModel:
    features: Features
    gate: Head  # classes ("complaint", "other")... in sorted order
    gate_threshold: float
    categories: Head
    category_frequency: dict[str, float]
    talk: Head | None
    subcategories: dict[str, Head] = field(default_factory=dict)
    training_examples: int = 0
    history: dict[str, int] = field(default_factory=dict)
    """Per category, how many of the city's own tickets (``Example.ticket``) it trained on."""


COMPLAINT, NOT_COMPLAINT = "complaint", "not_complaint"


def train_model(examples: Sequence[Example]) -> LocalModel:
    """Fit the features and the three decisions on ``examples`` (see the module docstring)."""
    complaints = [e for e in examples if e.intent not in CONVERSATION_INTENTS]
    talk = [e for e in examples if e.intent in CONVERSATION_INTENTS]
    counts = Counter(e.intent for e in complaints)
    if len(counts) < 2:
        raise ValueError("training needs complaints of at least two categories")
    rarest, fewest = min(counts.items(), key=lambda item: item[1])
    if fewest < 2:
        raise ValueError(f"intent {rarest!r} has one example; every intent needs at least two")
    texts = [bounded(e.text) for e in examples]
    features, x = Features.fit(texts)
    is_complaint = np.array([e.intent not in CONVERSATION_INTENTS for e in examples])
    if talk:
        gate_labels = [COMPLAINT if c else NOT_COMPLAINT for c in is_complaint]
        gate, threshold = _fit_gate(x, gate_labels, texts)
    else:  # nothing to tell complaints from: everything is one
        gate, threshold = Head((COMPLAINT,), np.zeros((x.shape[1], 1)), np.zeros(1)), 0.0
    rows = [int(i) for i in np.flatnonzero(is_complaint)]
    # Calibrated on folds that hold out whole sub-categories: the probabilities are then
    # those of texts about matters worded unlike the training examples (as a city's are),
    # not of near-repeats, which made them too sure and routed doubtful cases.
    groups = [
        f"{e.intent}/{e.subcategory}" if e.subcategory else f"#{i}"
        for i, e in enumerate(complaints)
    ]
    categories, _ = fit_head(
        x[rows], [e.intent for e in complaints], groups=groups, naive_bayes=True
    )
    total = len(complaints)
    frequency = {intent: n / total for intent, n in counts.items()}
    talk_head = None
    if len({e.intent for e in talk}) >= 2:
        talk_rows = np.flatnonzero(~is_complaint)
        talk_head, _ = fit_head(x[talk_rows], [e.intent for e in talk])
    elif talk:
        talk_head = Head((talk[0].intent,), np.zeros((x.shape[1], 1)), np.zeros(1))
    subcategories = {}
    for category in counts:
        labelled = [i for i in rows if examples[i].intent == category and examples[i].subcategory]
        codes = [str(examples[i].subcategory) for i in labelled]
        if len(set(codes)) >= 2:
            head, _ = fit_head(x[labelled], codes, calibrate=False)
            # Only the best sub-category is read: single precision decides it as well, and
            # halves what these heads (four fifths of the model's size) hold in memory.
            head.coef = head.coef.astype(np.float32)
            subcategories[category] = head
        elif codes:
            subcategories[category] = Head((codes[0],), np.zeros((x.shape[1], 1)), np.zeros(1))
    return LocalModel(
        features=features,
        gate=gate,
        gate_threshold=threshold,
        categories=categories,
        category_frequency=frequency,
        talk=talk_head,
        subcategories=subcategories,
        training_examples=len(examples),
        history=dict(Counter(e.intent for e in complaints if e.ticket)),
    )


def history_priors(
    history: Mapping[str, int], shares: Mapping[str, float], categories: Sequence[str]
) -> dict[str, float]:
    """Each category's prior from the city's tickets (``history``: counts per category),
    smoothed towards ``shares`` (the taxonomy's; an even share for a category it gives none)
    by ``HISTORY_PSEUDO_TICKETS``: summing to 1, none of them zero."""
    given = {code: shares.get(code, 0.0) for code in categories}
    even = 1 / len(categories)
    spread = {code: share if share > 0 else even for code, share in given.items()}
    total_spread = sum(spread.values())
    tickets = sum(history.get(code, 0) for code in categories)
    weight = HISTORY_PSEUDO_TICKETS / total_spread
    return {
        code: (history.get(code, 0) + weight * spread[code]) / (tickets + HISTORY_PSEUDO_TICKETS)
        for code in categories
    }


def _fit_gate(
    x: sparse.csr_matrix, labels: Sequence[str], texts: Sequence[str]
) -> tuple[Head, float]:
    """The gate and its threshold, its SVM's C chosen among ``GATE_C`` on held-out training
    data: each C's threshold keeps the same share of held-out complaints (``_gate_threshold``),
    and the C whose threshold lets the fewest held-out non-complaints through is kept. Every
    example is held out once (three folds), so that the threshold does not hang on one third
    of the short complaints."""
    best: tuple[float, Head, float] | None = None
    for c in GATE_C:
        gate, held = fit_head(x, labels, class_weight="balanced", every_fold=True, c=c)
        threshold = _gate_threshold(gate, held, texts)
        opened = _negatives_opened(gate, held, threshold)
        if best is None or opened < best[0]:
            best = (opened, gate, threshold)
    assert best is not None
    return best[1], best[2]


def _negatives_opened(gate: Head, held: Held | None, threshold: float) -> float:
    """The share of held-out non-complaints at or above ``threshold``."""
    if held is None:
        return 0.0
    negatives = held.labels != COMPLAINT
    if not negatives.any():
        return 0.0
    column = gate.classes.index(COMPLAINT)
    return float(np.mean(held.proba[negatives, column] >= threshold))


def _gate_threshold(gate: Head, held: Held | None, texts: Sequence[str] = ()) -> float:
    """The highest threshold on P(complaint) that keeps all but ``GATE_MISS`` of the held-out
    training complaints, and all but ``GATE_MISS_SHORT`` of the short ones (``SHORT_CHARS``):
    short complaints look most like small talk. Never above ``MAX_GATE_THRESHOLD``."""
    if held is None:
        return MAX_GATE_THRESHOLD
    column = gate.classes.index(COMPLAINT)
    complaints = held.labels == COMPLAINT
    threshold = _keeping(held.proba[complaints, column], GATE_MISS)
    if texts:
        short = complaints & np.array([len(texts[i].strip()) < SHORT_CHARS for i in held.rows])
        if short.sum() * GATE_MISS_SHORT >= 1:  # enough of them to leave one out
            threshold = min(threshold, _keeping(held.proba[short, column], GATE_MISS_SHORT))
    return float(min(MAX_GATE_THRESHOLD, threshold))


def _keeping(scores: Array, miss: float) -> float:
    """The highest threshold that all but ``miss`` of ``scores`` reach."""
    ordered = np.sort(scores)
    return float(ordered[math.floor(miss * len(ordered))])


def cache_path(
    paths: Sequence[Path],
    cache_dir: Path,
    tickets: Collection[Path] = (),
    contents: Sequence[bytes] | None = None,
) -> Path:
    """Where the model trained on ``paths`` (``tickets`` among them) is cached."""
    contents = contents if contents is not None else [path.read_bytes() for path in paths]
    own = [i for i, path in enumerate(paths) if path in tickets]
    return cache_dir / model_file_name(*contents, tickets=own)


def model_file_name(*training_data: bytes, tickets: Sequence[int] = ()) -> str:
    """The cache file for these training files' contents, in this order; ``tickets``: which of
    them (by position) are the city's own (their mix sets the priors).

    One file is named by the hash of its bytes; several by the hash of their hashes, so that no
    split of the same bytes into other files shares a name.
    """
    if not training_data:
        raise ValueError("no training data")
    if len(training_data) == 1 and not tickets:
        digest = hashlib.sha256(training_data[0]).hexdigest()
    else:
        combined = hashlib.sha256(b"civicline-nlu-files\0")
        for content in training_data:
            combined.update(hashlib.sha256(content).digest())
        if tickets:
            combined.update(b"tickets:" + ",".join(map(str, tickets)).encode())
        digest = combined.hexdigest()
    return f"local-{digest}-sklearn{sklearn.__version__}-r{MODEL_REVISION}.pickle"


@functools.lru_cache(maxsize=2)
def _read_model(path: str, mtime_ns: int, size: int) -> LocalModel:
    """The model cached at ``path``, read once per process for this version of the file: a
    loaded model is never changed (a classifier keeps its own priors), so the services a
    process starts again (tests start hundreds) share it instead of reading 130 MB each time."""
    with open(path, "rb") as file:
        model = pickle.load(file)  # noqa: S301 (our own cache directory; see above)
    if not isinstance(model, LocalModel):
        raise ValueError(f"{path}: not a trained local classifier")
    return model


class LocalClassifier:
    engine: str = "local"

    def __init__(self, model: LocalModel, *, priors: Mapping[str, float] | None = None) -> None:
        self.model = model
        self._categories = model.categories.classes
        self._talk = model.talk.classes if model.talk is not None else ()
        if model.history:
            city = history_priors(model.history, priors or {}, self._categories)
            self._prior_shift = self._shift(city, HISTORY_PRIOR_WEIGHT)
        else:
            self._prior_shift = self._shift(priors or {}, PRIOR_WEIGHT)
        # The three heads side by side: one gather and one product per text.
        heads = [model.gate, model.categories, *([model.talk] if model.talk else [])]
        coefs = [head.coef for head in heads]
        intercepts = [head.intercept for head in heads]
        if model.categories.nb is not None:  # naive Bayes's part last
            coefs.append(model.categories.nb)
            intercepts.append(np.zeros(model.categories.nb.shape[1]))
        self._coef = np.hstack(coefs)
        self._intercept = np.concatenate(intercepts)
        self._bounds = np.cumsum([0, *(coef.shape[1] for coef in coefs)])
        self._complaint_column = model.gate.classes.index(COMPLAINT)
        self._batcher: Batcher[str, Classification] = Batcher(self._classify_batch, max_size=64)

    def _shift(self, priors: Mapping[str, float], weight: float) -> Array:
        """Per category, share in the city over share in the training data (1 where unknown),
        to the power ``weight``."""
        ratios = []
        for code in self._categories:
            trained = self.model.category_frequency.get(code, 0.0)
            wanted = priors.get(code)
            ratio = wanted / trained if wanted is not None and trained > 0 else 1.0
            ratios.append(ratio**weight)
        return np.asarray(ratios)

    def with_priors(self, priors: Mapping[str, float]) -> LocalClassifier:
        return LocalClassifier(self.model, priors=priors)

    @property
    def intents(self) -> tuple[str, ...]:
        return (*self._categories, *self._talk)

    @property
    def gate_threshold(self) -> float:
        return self.model.gate_threshold

    @classmethod
    def train(
        cls, examples: Sequence[Example], *, priors: Mapping[str, float] | None = None
    ) -> LocalClassifier:
        return cls(train_model(examples), priors=priors)

    def classify_sync(self, text: str) -> Classification:
        model = self.model
        columns, weights = model.features.vector(bounded(text))
        scores = weights @ self._coef[columns] + self._intercept
        bounds = self._bounds
        parts = [scores[bounds[i] : bounds[i + 1]][None, :] for i in range(len(bounds) - 1)]
        complaint = float(model.gate.proba_of(parts[0])[0, self._complaint_column])
        if complaint < model.gate_threshold and model.talk is not None:
            ranking = _ranking(self._talk, model.talk.proba_of(parts[2])[0])
            return _answer(ranking, self.engine, complaint=complaint)
        decision = parts[1] if model.categories.nb is None else mixed(parts[1], parts[-1])
        proba = model.categories.proba_of(decision)[0] * self._prior_shift
        ranking = _ranking(self._categories, proba / proba.sum())
        subcategory = self._subcategory(columns, weights, ranking[0][0])
        return _answer(ranking, self.engine, complaint=complaint, subcategory=subcategory)

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """Many texts (evaluation, bulk import): the same answers as one at a time, with the
        heads' arithmetic after the products done once for all of them (row by row it is the
        same sums; one text at a time, numpy's per-call overhead was half of a text's time)."""
        if not texts:
            return []
        model = self.model
        vectors = [model.features.vector(bounded(text)) for text in texts]
        scores = np.vstack([weights @ self._coef[columns] for columns, weights in vectors])
        scores += self._intercept
        bounds = self._bounds
        parts = [scores[:, bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
        complaint = model.gate.proba_of(parts[0])[:, self._complaint_column]
        talk = np.zeros(len(texts), dtype=bool)
        if model.talk is not None:
            talk = complaint < model.gate_threshold
            talk_proba = iter(model.talk.proba_of(parts[2][talk]))
        decision = parts[1] if model.categories.nb is None else mixed(parts[1], parts[-1])
        proba = model.categories.proba_of(decision[~talk]) * self._prior_shift
        category_proba = iter(proba / proba.sum(axis=1, keepdims=True))
        answers = []
        for (columns, weights), is_talk, gate in zip(vectors, talk, complaint, strict=True):
            if is_talk:
                ranking = _ranking(self._talk, next(talk_proba))
                answers.append(_answer(ranking, self.engine, complaint=float(gate)))
                continue
            ranking = _ranking(self._categories, next(category_proba))
            subcategory = self._subcategory(columns, weights, ranking[0][0])
            answers.append(
                _answer(ranking, self.engine, complaint=float(gate), subcategory=subcategory)
            )
        return answers

    def _subcategory(self, columns: Array, weights: Array, category: str) -> str | None:
        head = self.model.subcategories.get(category)
        if head is None:
            return None
        if len(head.classes) == 1:
            return head.classes[0]
        scores = weights @ head.coef[columns] + head.intercept
        return head.classes[int(np.argmax(scores))]

    def subcategory_of(self, text: str, category: str) -> str | None:
        """The sub-category of ``category`` the text is about (for another engine's category)."""
        columns, weights = self.model.features.vector(bounded(text))
        return self._subcategory(columns, weights, category)

    async def classify(self, text: str) -> Classification:
        # Texts classified at the same moment (a worker's concurrent jobs) are answered in one
        # call, as the batcher hands them over.
        return await self._batcher.submit(text)

    async def _classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        return self.classify_many(texts)

    def save(self, path: Path) -> None:
        with atomic_writer(path) as file:
            pickle.dump(self.model, file, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, path: Path, *, priors: Mapping[str, float] | None = None) -> LocalClassifier:
        status = path.stat()
        model = _read_model(str(path.resolve()), status.st_mtime_ns, status.st_size)
        rjieba.cut("")  # its dictionary loads on the first cut
        return cls(model, priors=priors)

    @classmethod
    def load_or_train(
        cls,
        data_paths: Path | Sequence[Path],
        cache_dir: Path,
        *,
        priors: Mapping[str, float] | None = None,
        tickets: Collection[Path] = (),
    ) -> LocalClassifier:
        """The cached model for this exact training data and sklearn version, trained if missing.

        Several data files (the shipped data, then imported tickets) train one model; the cache
        key covers all their contents in order. ``priors`` apply at classification time; with
        ``tickets`` (some of the paths: the city's imported tickets and corrections) the model
        takes them from the city's own mix (``history_priors``).
        """
        paths = [data_paths] if isinstance(data_paths, Path) else list(data_paths)
        contents = [path.read_bytes() for path in paths]
        model_path = cache_path(paths, cache_dir, tickets, contents)
        if model_path.exists():
            try:
                return cls.load(model_path, priors=priors)
            except Exception:
                log.warning("cached NLU model %s is unreadable; retraining", model_path.name)
        classifier = cls.train(load_data(paths, tickets=tickets), priors=priors)
        classifier.save(model_path)
        log.info("trained local NLU model %s", model_path.name)
        return classifier


def _ranking(labels: Sequence[str], proba: Array) -> tuple[tuple[str, float], ...]:
    best_first = proba.argsort()[::-1][:MAX_RANKING]
    return tuple((labels[i], float(proba[i])) for i in best_first)


def _answer(
    ranking: tuple[tuple[str, float], ...],
    engine: str,
    *,
    complaint: float,
    subcategory: str | None = None,
) -> Classification:
    intent, confidence = ranking[0]
    return Classification(
        intent=intent,
        confidence=confidence,
        ranking=ranking,
        engine=engine,
        complaint=complaint,
        subcategory=subcategory,
    )
