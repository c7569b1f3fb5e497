"""One JSON shape for a search result: every producer — the library's ``result_to_dict``,
``qa ask --json``, ``qa eval --details``, the chat's ``search`` handler and the HTTP endpoint —
gives output that ``RESULT_SCHEMA`` accepts, and the schema, its .json file and the README's
table say the same thing.

jsonschema is not a dependency, so ``check`` below is a strict checker for the keywords the
schema uses: a keyword it does not know fails the test instead of being skipped.
"""

from __future__ import annotations

import json
import re

import pytest
from app_support import ROOT, SEED_DOC, free_port

from qa import Filter, SearchResult
from qa.conversation import ask
from qa.interfaces import cli
from qa.render.json import (EVAL_DETAIL_SCHEMA, HIT_SCHEMA, RESULT_SCHEMA, SCHEMA_VERSION, filter_to_dict,
                            result_to_dict, schema_json)

QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
ANNOTATIONS = {"$schema", "title", "description"}
KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "minItems", "minimum", "const",
            "enum", "anyOf"}
TYPES = {"null": lambda v: v is None, "boolean": lambda v: isinstance(v, bool), "string": lambda v: isinstance(v, str),
         "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
         "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
         "array": lambda v: isinstance(v, list), "object": lambda v: isinstance(v, dict)}


def check(value, schema: dict, path: str = "$") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (draft 2020-12, the keywords in KEYWORDS)."""
    unknown = set(schema) - ANNOTATIONS - KEYWORDS
    assert not unknown, f"{path}: the checker does not know {sorted(unknown)}; teach it before using them"
    if "anyOf" in schema and all(check(value, option, path) for option in schema["anyOf"]):
        return [f"{path}: matches none of its alternatives"]
    if "const" in schema and (type(value) is not type(schema["const"]) or value != schema["const"]):
        return [f"{path}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and not any(type(value) is type(e) and value == e for e in schema["enum"]):
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    kinds = schema.get("type")
    if kinds is not None and not any(TYPES[k](value) for k in ([kinds] if isinstance(kinds, str) else kinds)):
        return [f"{path}: {value!r} is not of type {kinds}"]
    errors = []
    if "minimum" in schema and TYPES["number"](value) and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{path}: {name!r} is missing" for name in schema.get("required", ()) if name not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{path}: {name!r} is not in the schema" for name in value if name not in properties]
        for name, sub in properties.items():
            if name in value:
                errors += check(value[name], sub, f"{path}.{name}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            errors += check(item, schema.get("items", {}), f"{path}[{i}]")
    return errors


def valid(data: dict, schema: dict = RESULT_SCHEMA) -> dict:
    """``data`` after a JSON round trip, asserted valid (and with the result's invariants)."""
    data = json.loads(json.dumps(data))
    assert check(data, schema) == []
    for hit in data.get("hits", ()):
        assert hit["context_before"] + hit["text"] + hit["context_after"] == hit["context"]
        assert hit["context"][hit["start"] - hit["context_start"]:][:len(hit["text"])] == hit["text"]
        assert hit["sources"][0]["doc"] == hit["doc"] and hit["sources"][0]["start"] == hit["start"]
    return data


# -- the checker and the schema themselves ------------------------------------------------

def test_the_checker_rejects_what_the_schema_forbids(seed):
    good = result_to_dict(seed.search("When did formal diplomatic relations begin?", k=1))
    assert check(good, RESULT_SCHEMA) == []
    hit = good["hits"][0]
    bad = [{**good, "schema": "qa.search-result/0"}, {**good, "found": 1}, {**good, "mode": "magic"},
           {**good, "extra": 1}, {k: v for k, v in good.items() if k != "filter"},
           {**good, "filter": {"since": None, "until": None}}, {**good, "follow_up_of": [3]},
           {**good, "hits": [{**hit, "rank": 0}]}, {**good, "hits": [{**hit, "sentence": True}]},
           {**good, "hits": [{**hit, "also_in": []}]}, {**good, "hits": [{**hit, "sources": []}]},
           {**good, "hits": [{**hit, "sources": [{**hit["sources"][0], "date": 2025}]}]}]
    for data in bad:
        assert check(data, RESULT_SCHEMA), data


def test_every_object_in_the_schema_requires_all_its_fields_and_no_others():
    def objects(schema):
        if schema.get("type") == "object":
            yield schema
        for sub in [*schema.get("properties", {}).values(), *schema.get("anyOf", ()), *filter(None, [schema.get("items")])]:
            yield from objects(sub)

    found = list(objects(EVAL_DETAIL_SCHEMA))
    assert len(found) == 7  # detail, answer span, result, filter, hit, its answer phrase, source
    for schema in found:
        assert schema["required"] == list(schema["properties"]) and schema["additionalProperties"] is False
    assert RESULT_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_schema_file_in_docs_is_the_schema():
    path = ROOT / "docs" / "search-result.schema.json"
    assert path.read_text(encoding="utf-8") == schema_json(), \
        "rewrite it: python -c 'from qa.render.json import schema_json; print(schema_json(), end=\"\")' " \
        "> docs/search-result.schema.json"


def _rows(schema: dict, prefix: str = "") -> list[str]:
    """The README table's rows for ``schema``: one per field, nested fields as ``hits[].text``."""
    rows = []
    for name, sub in schema["properties"].items():
        options = sub.get("anyOf", [sub])
        kinds = [k for o in options for k in ([o["type"]] if isinstance(o.get("type"), str) else o.get("type", ["string"]))]
        rows.append(f"| `{prefix}{name}` | {' or '.join(kinds)} | {sub['description']} |")
        nested = next((o for o in options if o.get("type") == "object"), None) or sub.get("items", {})
        if nested.get("properties"):
            rows += _rows(nested, f"{prefix}{name}{'[]' if 'items' in sub else ''}.")
    return rows


def test_the_readme_table_lists_every_field_as_the_schema_describes_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if re.match(r"\| `(schema|question|found|confidence|mode|"
                                                               r"truncated|filter|follow_up_of|hits)\b", line)]
    assert table == _rows(RESULT_SCHEMA), "\n".join(_rows(RESULT_SCHEMA))
    assert f'`"schema": "{SCHEMA_VERSION}"`' in readme


# -- the producers ---------------------------------------------------------------------------

def test_library_results_of_every_kind_fit_the_schema(seed, with_copy):
    question = "When did formal diplomatic relations begin?"
    for mode in ("hybrid", "dense", "bm25"):
        assert valid(result_to_dict(seed.search(question, k=3, mode=mode)))["mode"] == mode
    assert valid(result_to_dict(seed.search("What is the capital of France?", k=2)))["found"] is False
    assert valid(result_to_dict(seed.search("Who is the president? " * 200, k=1)))["truncated"] is True
    first = ask(seed, "Who is the president of Ecuador?")
    turn = ask(seed, "What did he say about the hostages?", previous=first)
    assert valid(result_to_dict(turn.result, turn.follow_up_of))["follow_up_of"] == ["Who is the president of Ecuador?"]
    dated = valid(result_to_dict(seed.search(question, k=1, filter=Filter(since="2025-01-01", sources="The Rio Times"))))
    assert dated["filter"] == {"since": "2025-01-01", "until": None, "sources": ["The Rio Times"]}
    assert valid(result_to_dict(seed.search(question, filter=Filter(since="2030-01-01"))))["hits"] == []
    assert valid(result_to_dict(SearchResult("Anything?", (), False, 0.0, "hybrid")))["filter"] is None
    twice = valid(result_to_dict(with_copy.search(question, k=1)))["hits"][0]
    assert sorted(s["doc"] for s in twice["sources"]) == [SEED_DOC, "digest.txt"]


def test_a_hit_names_its_sentence_place_and_context_exactly(seed):
    data = valid(result_to_dict(seed.search("When did formal diplomatic relations begin?", k=2)))
    assert data["schema"] == SCHEMA_VERSION and data["filter"] is None and data["follow_up_of"] == []
    hit = data["hits"][0]
    doc = seed.document(hit["doc"])
    assert hit["text"] == "Formal diplomatic relations began in 1949." == doc.text[hit["start"]:hit["end"]]
    assert hit["context"] == doc.text[hit["context_start"]:hit["context_start"] + len(hit["context"])]
    assert (hit["rank"], hit["sentence"], hit["sentences"], hit["title"], hit["source"], hit["date"]) == \
        (1, 17, 27, doc.title, "The Rio Times", "2025-05-05")
    assert hit["sources"] == [{"doc": hit["doc"], "title": doc.title, "source": "The Rio Times", "date": "2025-05-05",
                               "start": hit["start"], "end": hit["end"]}]
    assert hit["score"] > data["hits"][1]["score"]
    assert list(hit) == list(HIT_SCHEMA["properties"]) and list(data) == list(RESULT_SCHEMA["properties"])


def test_an_inactive_filter_is_null():
    assert filter_to_dict(Filter()) is None


@pytest.fixture
def qa_command(seed, monkeypatch, capsys):
    """Run ``qa ...`` in this process on the seed folder and index: (exit status, stdout, stderr)."""
    for name in ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS", "TOKENIZERS_PARALLELISM"):
        monkeypatch.setenv(name, "1" if name != "TOKENIZERS_PARALLELISM" else "false")  # main() sets them otherwise
    docs = seed.index_dir.parent / "docs"

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main([*args, "--docs", str(docs), "--index", str(seed.index_dir)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_qa_ask_json_is_the_same_shape(qa_command, seed):
    code, out, _ = qa_command("ask", "What did the mayor say would never run?", "-k", "3", "--json")
    assert code == 0
    data = valid(json.loads(out))
    assert data == result_to_dict(seed.search("What did the mayor say would never run?", k=3))


def test_qa_eval_details_give_each_result_in_the_same_shape_and_add_up_to_the_summary(qa_command):
    code, out, err = qa_command("eval", str(QUESTIONS), "--details", "--json")
    assert code == 0
    details = [valid(json.loads(line), EVAL_DETAIL_SCHEMA) for line in out.splitlines()]
    summary = json.loads(err)
    assert len(details) == summary["questions"] == sum(1 for line in QUESTIONS.read_text().splitlines() if line.strip())
    answerable = [d for d in details if d["answers"]]
    mrr = sum(1 / d["answer_rank"] for d in answerable if d["answer_rank"] and d["answer_rank"] <= 10) / len(answerable)
    assert round(mrr, 4) == summary["mrr@10"]
    assert all(d["answer_rank"] == min(d["correct_ranks"], default=None) for d in details)
    assert all(d["correct_ranks"] == [] for d in details if not d["answers"])


@pytest.fixture(scope="module")
def app_server(seed, tmp_path_factory):
    from qa.interfaces.web import Handlers, build_app, launch_settings

    port = free_port()
    demo = build_app(seed, seed.index_dir.parent / "docs")
    demo.queue(default_concurrency_limit=2)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True,
                            **launch_settings("127.0.0.1", port, seed.index_dir.parent / "docs", seed.index_dir))
    yield Handlers(seed, seed.index_dir.parent / "docs"), url
    demo.close()


@pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*")
def test_the_chat_search_handler_and_the_http_endpoint_give_the_same_shape(app_server):
    from gradio_client import Client

    handlers, url = app_server
    local = valid(handlers.search("What did he say about the hostages?", k=2,
                                  previous_question="Who is the president of Ecuador?"))
    assert local["follow_up_of"] == ["Who is the president of Ecuador?"]
    client = Client(url, verbose=False, analytics_enabled=False)
    remote = valid(client.predict(question="What did he say about the hostages?", k=2,
                                  previous_question="Who is the president of Ecuador?", api_name="/search"))
    assert remote == local
    assert valid(client.predict(question="What is the capital of France?", api_name="/search"))["found"] is False

