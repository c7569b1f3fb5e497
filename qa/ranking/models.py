"""Linear models fitted offline and shipped as JSON: the re-ranker and the ``found`` calibrator.

A model is its feature names, the standardising means and scales, the coefficients, the
intercept, any named settings it was chosen with (a threshold) and a note of what it was
fitted on. ``bench/fit_rerank.py`` writes them; qa reads them from the package. No pickle.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError

REFIT = "refit it with bench/fit_rerank.py"


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value; identity does
class LinearModel:
    """``decision(X) = ((X - mean) / scale) @ coef + intercept``, over the columns ``names``."""

    format: str
    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    settings: dict = field(default_factory=dict)
    fitted_on: str = ""

    def __post_init__(self):  # a hook: a kind of model checks its own settings
        pass

    def decision(self, x: np.ndarray) -> np.ndarray:
        """The model's log-odds for each row of ``x``."""
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {"format": self.format, "features": list(self.names), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": float(self.intercept),
                "settings": dict(self.settings), "fitted_on": self.fitted_on}

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (to a temporary name first, then moved into place)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def from_dict(cls, data: dict, format: str, names: tuple[str, ...], where: str) -> "LinearModel":
        """The model in ``data``, checked to be of ``format`` over exactly the features ``names``."""
        if not isinstance(data, dict) or data.get("format") != format:
            found = data.get("format") if isinstance(data, dict) else None
            raise ModelLoadError(f"{where}: not a {format} model (format {found!r}); {REFIT}")
        got = tuple(data.get("features", ()))
        if got != names:
            differ = sorted(set(names) ^ set(got)) or ["their order"]
            raise ModelLoadError(f"{where}: its features differ from this qa's ({', '.join(differ)}); {REFIT}")
        try:
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
            intercept = float(data["intercept"])
        except (KeyError, TypeError, ValueError) as err:
            raise ModelLoadError(f"{where}: a model field is missing or not numbers ({err}); {REFIT}") from None
        if any(a.shape != (len(names),) for a in arrays) or not (arrays[1] > 0).all() or \
                not all(np.isfinite(a).all() for a in arrays):
            raise ModelLoadError(f"{where}: its arrays do not match its {len(names)} features; {REFIT}")
        return cls(format, names, *arrays, intercept, dict(data.get("settings", {})), str(data.get("fitted_on", "")))

    @classmethod
    def load(cls, path: str | Path, format: str, names: tuple[str, ...]) -> "LinearModel":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"{path}: cannot read the model ({err}); {REFIT}") from None
        return cls.from_dict(data, format, names, str(path))


@functools.cache
def packaged(file: str, format: str, names: tuple[str, ...]) -> LinearModel:
    """A model shipped in ``qa/ranking/`` (read once per process)."""
    try:
        text = resources.files(__package__).joinpath(file).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"qa/ranking/{file}: cannot read the packaged model ({err}); reinstall qa or "
                             f"{REFIT}") from None
    return LinearModel.from_dict(data, format, names, f"qa/ranking/{file}")
