"""Local intent classifier trained from the Rasa NLU data: TF-IDF features, calibrated linear SVM.

Features are character 1-3-grams plus jieba words. Model chosen by 5-fold x 3 stratified CV on the
packaged nlu.yml (1,429 examples, 20 intents), accuracy / log loss / fit / per text:
LinearSVC, CalibratedClassifierCV (sigmoid, 5 folds, one final model) 0.750 / 0.98 / 0.5 s / 2.5ms;
the same with the 5-model ensemble 0.741 / 1.02 / 0.5 s / 7ms;
LogisticRegression(C=10) 0.730 / 1.32 / 5-8 s / 1.4ms.

Cached models are pickles (joblib): load them only from a directory this service owns.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jieba
import joblib
import numpy as np
import sklearn
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from civicline.domain.batching import Batcher
from civicline.nlu.base import MAX_RANKING, Classification
from civicline.nlu.files import atomic_writer
from civicline.nlu.training_data import Example, parse_examples

jieba.setLogLevel(logging.WARNING)

log = logging.getLogger(__name__)

MODEL_REVISION = 1
"""Part of the cache file name: bump it when `build_pipeline` changes so cached models retrain."""

_CALIBRATION_FOLDS = 5


def jieba_words(text: str) -> list[str]:
    words = (token.strip().lower() for token in jieba.lcut(text))
    return [word for word in words if any(char.isalnum() for char in word)]


def build_pipeline(calibration_folds: int = _CALIBRATION_FOLDS) -> Pipeline:
    features = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)),
            (
                "words",
                TfidfVectorizer(
                    tokenizer=jieba_words, token_pattern=None, lowercase=False, sublinear_tf=True
                ),
            ),
        ]
    )
    model = CalibratedClassifierCV(
        LinearSVC(C=1.0, random_state=0), cv=calibration_folds, ensemble=False
    )
    return Pipeline([("features", features), ("model", model)])


def model_file_name(*training_data: bytes) -> str:
    """The cache file for these training files' contents, in this order.

    One file is named by the hash of its bytes; several by the hash of their hashes, so that no
    split of the same bytes into other files shares a name.
    """
    if not training_data:
        raise ValueError("no training data")
    if len(training_data) == 1:
        digest = hashlib.sha256(training_data[0]).hexdigest()
    else:
        combined = hashlib.sha256(b"civicline-nlu-files\0")
        for content in training_data:
            combined.update(hashlib.sha256(content).digest())
        digest = combined.hexdigest()
    return f"local-{digest}-sklearn{sklearn.__version__}-r{MODEL_REVISION}.joblib"


class _Arithmetic:
    """The fitted pipeline's sums without scikit-learn's per-call checks and joblib dispatch.

    ``Pipeline.predict_proba`` on one short text spends most of its 2.5 ms validating inputs
    once per class and running the FeatureUnion through joblib; the maths is two sparse
    transforms, one sparse-dense product and a sigmoid per class. A test checks the result
    equals ``predict_proba`` on the training data, so a scikit-learn upgrade that changes the
    fitted attributes fails loudly instead of classifying wrongly.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        union: FeatureUnion = pipeline.named_steps["features"]
        self.vectorizers = [vectorizer for _, vectorizer in union.transformer_list]
        [calibrated] = pipeline.named_steps["model"].calibrated_classifiers_
        if calibrated.method != "sigmoid":
            raise ValueError("the fast path knows sigmoid calibration only")
        svc = calibrated.estimator
        columns = np.searchsorted(calibrated.classes, svc.classes_)
        self.coef = np.asarray(svc.coef_.T)
        self.intercept = np.asarray(svc.intercept_)
        self.a = np.array([c.a_ for c in calibrated.calibrators])
        self.b = np.array([c.b_ for c in calibrated.calibrators])
        self.columns = columns
        self.n_classes = len(calibrated.classes)

    def predict_proba(self, texts: list[str]) -> np.ndarray[Any, Any]:
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            parts = [v.transform(texts) for v in self.vectorizers]
        features = sparse.hstack(parts, format="csr")
        decision = np.asarray(features @ self.coef) + self.intercept
        proba = np.zeros((len(texts), self.n_classes))
        proba[:, self.columns] = expit(-(decision * self.a + self.b))
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1 / self.n_classes)
        result: np.ndarray[Any, Any] = np.divide(proba, total, out=uniform, where=total != 0)
        return result


class LocalClassifier:
    engine: str = "local"

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._intents: tuple[str, ...] = tuple(str(name) for name in pipeline.classes_)
        self._fast = _Arithmetic(pipeline)
        self._batcher: Batcher[str, Classification] = Batcher(self._classify_batch, max_size=64)

    @property
    def intents(self) -> tuple[str, ...]:
        return self._intents

    @classmethod
    def train(cls, examples: Sequence[Example]) -> LocalClassifier:
        counts = Counter(example.intent for example in examples)
        if len(counts) < 2:
            raise ValueError("training needs examples of at least two intents")
        rarest, fewest = min(counts.items(), key=lambda item: item[1])
        if fewest < 2:
            raise ValueError(f"intent {rarest!r} has one example; every intent needs at least two")
        pipeline = build_pipeline(min(_CALIBRATION_FOLDS, fewest))
        texts = [example.text for example in examples]
        pipeline.fit(texts, [example.intent for example in examples])
        return cls(pipeline)

    def classify_sync(self, text: str) -> Classification:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """One pass over many texts (evaluation, bulk import); same results as one at a time."""
        if not texts:
            return []
        return [self._classification(row) for row in self._fast.predict_proba(list(texts))]

    def predict_proba_reference(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        """scikit-learn's own answer, to check the fast path against."""
        result: np.ndarray[Any, Any] = self._pipeline.predict_proba(list(texts))
        return result

    def _classification(self, probabilities: np.ndarray[Any, Any]) -> Classification:
        best_first = probabilities.argsort()[::-1][:MAX_RANKING]
        ranking = tuple((self._intents[i], float(probabilities[i])) for i in best_first)
        intent, confidence = ranking[0]
        return Classification(
            intent=intent, confidence=confidence, ranking=ranking, engine=self.engine
        )

    async def classify(self, text: str) -> Classification:
        # Texts classified at the same moment (a worker's concurrent jobs) share one pass:
        # 20 texts together cost about a third of 20 one at a time (bench/worker.py).
        return await self._batcher.submit(text)

    async def _classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        return self.classify_many(texts)

    def save(self, path: Path) -> None:
        with atomic_writer(path) as file:
            joblib.dump(self._pipeline, file)

    @classmethod
    def load(cls, path: Path) -> LocalClassifier:
        pipeline = joblib.load(path)
        if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "classes_"):
            raise ValueError(f"{path}: not a trained local classifier")
        jieba.initialize()
        return cls(pipeline)

    @classmethod
    def load_or_train(cls, data_paths: Path | Sequence[Path], cache_dir: Path) -> LocalClassifier:
        """The cached model for this exact training data and sklearn version, trained if missing.

        Several data files (the shipped data, then imported tickets) train one model; the cache
        key covers all their contents in order.
        """
        paths = [data_paths] if isinstance(data_paths, Path) else list(data_paths)
        contents = [path.read_bytes() for path in paths]
        model_path = cache_dir / model_file_name(*contents)
        if model_path.exists():
            try:
                return cls.load(model_path)
            except Exception:
                log.warning("cached NLU model %s is unreadable; retraining", model_path.name)
        examples = [
            example
            for path, content in zip(paths, contents, strict=True)
            for example in parse_examples(content, source=path)
        ]
        classifier = cls.train(examples)
        classifier.save(model_path)
        log.info("trained local NLU model %s", model_path.name)
        return classifier
