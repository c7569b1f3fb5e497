"""The ``qa`` command: text from the one text renderer, JSON in the one shape, eval details as
JSON lines, and every error as one line. (The JSON itself is checked in tests/render/test_json.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from app_support import ROOT, SEEDS

from qa import Retriever
from qa.interfaces import cli
from qa.render import format_result, result_to_dict

QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
REPORT_KEYS = ["questions", "answerable", "unanswerable", "mode", "mrr@10", "r@1", "r@3", "r@5", "r@10",
               "abstain_recall", "false_abstain"]


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli") / "index"


@pytest.fixture
def qa(index, monkeypatch, capsys):
    """Run ``qa ...`` in this process on seeds/ (index in a temporary folder): (status, stdout, stderr)."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TOKENIZERS_PARALLELISM", "false")):
        monkeypatch.setenv(name, value)  # main() would set them for the rest of the test session

    def run(*args: str, docs: Path = SEEDS) -> tuple[int, str, str]:
        code = cli.main([*args, "--docs", str(docs), "--index", str(index)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_ask_prints_the_text_renderer_s_answer(qa, index):
    code, out, _ = qa("ask", "Who is the president of Ecuador?", "-k", "2")
    assert code == 0
    expected = Retriever.from_directory(SEEDS, index_dir=index).search("Who is the president of Ecuador?", k=2)
    assert out == format_result(expected) + "\n"
    assert out.startswith("The articles say:\n\n> [1] “President Daniel Noboa of Ecuador")


def test_ask_json_is_the_search_result_shape(qa, index):
    code, out, _ = qa("ask", "When did formal diplomatic relations begin?", "-k", "1", "--mode", "bm25", "--json")
    assert code == 0
    expected = Retriever.from_directory(SEEDS, index_dir=index).search(
        "When did formal diplomatic relations begin?", k=1, mode="bm25")
    assert json.loads(out) == json.loads(json.dumps(result_to_dict(expected)))


def test_ask_learned_ranks_with_the_learned_re_ranker(qa, index):
    from qa.ranking import Fusion

    question = "What did Herzog call Noboa?"
    code, out, _ = qa("ask", question, "-k", "3", "--learned", "--json")
    assert code == 0
    retriever = Retriever.from_directory(SEEDS, index_dir=index)
    retriever.fusion = Fusion.learned()
    assert json.loads(out) == json.loads(json.dumps(result_to_dict(retriever.search(question, k=3))))
    _, plain, _ = qa("ask", question, "-k", "3", "--json")
    assert [h["score"] for h in json.loads(plain)["hits"]] != [h["score"] for h in json.loads(out)["hits"]]


def test_eval_json_keeps_its_keys(qa):
    code, out, err = qa("eval", str(QUESTIONS), "--json")
    assert code == 0 and err == ""
    assert list(json.loads(out)) == REPORT_KEYS
    code, out, _ = qa("eval", str(QUESTIONS), "--json", "--mode", "all")
    assert [r["mode"] for r in json.loads(out)] == ["bm25", "dense", "hybrid"]


def test_eval_details_are_json_lines_on_stdout_and_the_summary_on_stderr(qa):
    code, out, err = qa("eval", str(QUESTIONS), "--details")
    assert code == 0
    details = [json.loads(line) for line in out.splitlines()]
    assert [d["id"] for d in details][:2] == ["seed-01", "seed-02"]
    assert {d["schema"] for d in details} == {"qa.eval-detail/1"}
    assert {d["result"]["schema"] for d in details} == {"qa.search-result/1"}
    assert err.startswith("hybrid: 22 questions  MRR@10 ")
    code, out, err = qa("eval", str(QUESTIONS), "--details", "--mode", "all", "--json")
    assert len(out.splitlines()) == 3 * len(details)
    assert [r["mode"] for r in json.loads(err)] == ["bm25", "dense", "hybrid"]


@pytest.mark.parametrize("args, message", [
    (("ask", "   "), "qa: error: the question is empty; type a question about the documents"),
    (("eval", "no-such-questions.jsonl"), "qa: error: no-such-questions.jsonl: cannot read the question file"),
])
def test_errors_are_one_line_and_status_2(qa, args, message):
    code, out, err = qa(*args)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(message)


def test_a_missing_documents_folder_is_one_line(qa, tmp_path):
    code, _, err = qa("ask", "Anything?", docs=tmp_path / "nowhere")
    assert code == 2 and err.splitlines() == [f"qa: error: {tmp_path / 'nowhere'}: no such folder; pass a folder of "
                                              ".txt, .md, .html or .pdf files"]


def test_output_cut_short_by_its_reader_ends_quietly(index):
    # Enough JSON lines to overflow a pipe's buffer, so writing after the reader has gone fails.
    proc = subprocess.Popen([sys.executable, "-m", "qa", "eval", str(QUESTIONS), "--details", "--mode", "all",
                             "--docs", str(SEEDS), "--index", str(index)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert json.loads(proc.stdout.readline())["id"] == "seed-01"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1 and "Traceback" not in err and err == ""
