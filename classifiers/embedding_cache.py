"""A disk cache of sentence embeddings, keyed by model sha256 and text sha256.

Shared by reruns and sweeps (and by every Dask worker on one machine or a shared
filesystem): ``DIR/embeddings/{model sha256}.sqlite`` holds one row per text, keyed by the
sha256 of the text's UTF-8 bytes, the value the unit-length float32 vector. A new model
(another sha256) gets another file, so a vector is never read under the wrong weights.

Safe under concurrent writers: SQLite in WAL mode with a busy timeout, one short
transaction per batch, ``INSERT OR IGNORE`` (the first vector stored for a key is the
one every later reader gets, which keeps repeated runs deterministic).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .embedding import Encoder

#: sqlite host parameters per query (the lowest limit of any SQLite build).
_IN_BATCH = 900


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingStore:
    """Vectors of one model on disk; one connection per thread."""

    def __init__(self, directory: Path, model_sha256: str, *, timeout: float = 60.0) -> None:
        self.path = Path(directory) / "embeddings" / f"{model_sha256}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS vectors "
                         "(text_sha256 TEXT PRIMARY KEY, dim INTEGER NOT NULL, "
                         "vector BLOB NOT NULL) WITHOUT ROWID")

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        conn = self._connect()
        out: dict[str, np.ndarray] = {}
        unique = sorted(set(keys))
        for i in range(0, len(unique), _IN_BATCH):
            batch = unique[i:i + _IN_BATCH]
            marks = ",".join("?" * len(batch))
            for key, dim, blob in conn.execute(
                    f"SELECT text_sha256, dim, vector FROM vectors WHERE text_sha256 IN ({marks})",
                    batch):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dim:
                    out[key] = vec.copy()
        return out

    def put(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        conn = self._connect()
        rows = [(k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes())
                for k, v in sorted(items.items())]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        return int(self._connect().execute("SELECT count(*) FROM vectors").fetchone()[0])


class CachedEncoder(Encoder):
    """An :class:`Encoder` that reads and fills an :class:`EmbeddingStore` first.

    Texts found on disk are not encoded again (and the model is not even loaded when all
    are found); new vectors are written back in one transaction per call.
    """

    def __init__(self, package: str, sha256: str, store: EmbeddingStore, *,
                 batch_size: int = 32, threads: int | None = None) -> None:
        super().__init__(package, sha256, batch_size=batch_size, threads=threads)
        self.store = store
        self.hits = 0
        self.misses = 0

    @classmethod
    def wrap(cls, encoder: Encoder, directory: Path) -> CachedEncoder:
        return cls(encoder.package, encoder.sha256, EmbeddingStore(directory, encoder.sha256),
                   batch_size=encoder.batch_size, threads=encoder.threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        with self._lock:
            wanted = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if wanted:
            found = self.store.get(wanted)
            self.hits += len(found)
            self.misses += len(wanted) - len(found)
            with self._lock:
                self._cache.update(found)
        with self._lock:
            before = set(self._cache)
        vectors = super().encode(texts)
        with self._lock:
            new = {k: self._cache[k] for k in set(keys) - before if k in self._cache}
        self.store.put(new)
        return vectors
