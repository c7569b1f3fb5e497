"""The shipped linear models (re-ranker, found calibrator): load, check, save, and refuse damage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.errors import ModelLoadError, QAError
from qa.ranking import calibration, rerank
from qa.ranking.calibration import Calibrator
from qa.ranking.rerank import Reranker


def test_the_packaged_models_load_over_this_qas_features():
    model, cal = Reranker.packaged(), Calibrator.packaged()
    assert model.names == rerank.FEATURES and cal.names == calibration.FEATURES
    assert model.fitted_on and cal.fitted_on  # each says what it was fitted on
    assert 0.0 < cal.threshold < 1.0


def test_a_saved_model_reads_back_the_same(tmp_path):
    n = len(rerank.FEATURES)
    model = Reranker.of(np.arange(n) / 10, np.full(n, 2.0), np.linspace(-1, 1, n), 0.25, "a test")
    model.save(tmp_path / "m.json")
    again = Reranker.read(tmp_path / "m.json")
    x = np.random.default_rng(0).normal(size=(4, n))
    assert np.allclose(again.score(x), model.score(x)) and again.fitted_on == "a test"
    assert not list(tmp_path.glob("*.tmp"))  # written to a temporary name, then moved


@pytest.mark.parametrize("damage, says", [
    (lambda d: d.update(format="qa.rerank/0"), "not a qa.rerank/1 model"),
    (lambda d: d.update(features=d["features"][:-1], mean=d["mean"][:-1]), "features differ"),
    (lambda d: d.update(scale=[0.0] * len(d["scale"])), "do not match"),
    (lambda d: d.update(coef=[float("nan")] * len(d["coef"])), "do not match"),
    (lambda d: d.pop("intercept"), "missing"),
])
def test_a_damaged_model_file_is_one_error_that_says_to_refit(tmp_path, damage, says):
    data = Reranker.packaged().to_dict()
    damage(data)
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match=says) as err:
        Reranker.read(tmp_path / "m.json")
    assert "bench/fit_rerank.py" in str(err.value) and isinstance(err.value, QAError)


def test_a_model_file_that_is_not_json_is_one_error(tmp_path):
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot read"):
        Reranker.read(tmp_path / "m.json")


@pytest.mark.parametrize("threshold", [None, "high", 1.5])
def test_a_found_model_without_a_probability_threshold_is_one_error(tmp_path, threshold):
    data = Calibrator.packaged().to_dict()
    data["settings"] = {} if threshold is None else {"threshold": threshold}
    (tmp_path / "found.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="threshold .* not a probability; refit"):
        Calibrator.read(tmp_path / "found.json")


def test_models_compare_by_identity_and_hash():
    model = Reranker.packaged()
    assert model == model and model != Reranker.packaged() and isinstance(hash(model), int)
