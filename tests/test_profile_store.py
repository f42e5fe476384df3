"""The profile store (SQLite, append-only, JSON-lines import/export, latencies per backend with
a backend-agnostic fallback, the version-1 upgrade) and `agentjit profile`."""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import sqlite3
import threading

import numpy as np
import pytest

from agentjit.cost.model import CostModel
from agentjit.cost.profile import SCHEMA_VERSION, ProfileError, ProfileStore, Sample
from agentjit.cost.profile_cli import add_profile_parser
from agentjit.ir import Effects


def _store(tmp_path: pathlib.Path, name: str = "p.sqlite") -> ProfileStore:
    return ProfileStore(tmp_path / name)


def _rows(store: ProfileStore) -> list[tuple[object, ...]]:
    return store._conn.execute("SELECT * FROM samples ORDER BY id").fetchall()


SAMPLES = [
    Sample("latency", "shop.search", 0.21, run="r1", recorded_at=100.0),
    Sample("latency", "shop.search", 0.25, run="r1", recorded_at=101.0),
    Sample("latency", "llm:gpt", 1.5, prompt_tokens=300, output_tokens=20, recorded_at=102.0),
    Sample("trips", "a.agent:7:5", 12.0),
    Sample("branch", "a.agent:9:5", 1.0),
    Sample("length", "shop.list_products", 0.0),
]


# ---- the store ----


def test_append_values_keys(tmp_path: pathlib.Path) -> None:
    with _store(tmp_path) as store:
        assert store.append(SAMPLES) == len(SAMPLES)
        assert store.values("latency", "shop.search").tolist() == [0.21, 0.25]
        assert store.values("latency", "shop.search", limit=1).tolist() == [0.25]
        assert store.values("latency", "missing").shape == (0,)
        assert store.llm_samples("gpt").tolist() == [[1.5, 300.0, 20.0]]
        assert store.llm_samples("other").shape == (0, 3)
        assert store.keys("latency") == [("latency", "llm:gpt", 1), ("latency", "shop.search", 2)]
        counts = store.keys()
        assert [k[0] for k in counts] == ["branch", "latency", "latency", "length", "trips"]


def test_reads_are_kept_until_the_file_changes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.sqlite"
    reader, writer = ProfileStore(path, backend=None), ProfileStore(path, backend=None)
    writer.append([Sample("latency", "shop.search", 1.0)])
    first = reader.values("latency", "shop.search")
    first[0] = -5.0  # the caller's copy: the next read is untouched
    assert reader.values("latency", "shop.search").tolist() == [1.0]
    writer.append([Sample("latency", "shop.search", 2.0)])  # another connection commits
    assert reader.values("latency", "shop.search").tolist() == [1.0, 2.0]
    reader.append([Sample("latency", "shop.search", 3.0)])  # its own append
    assert reader.values("latency", "shop.search", limit=2).tolist() == [2.0, 3.0]
    reader.close()
    writer.close()


def test_recorded_at_defaults_to_now(tmp_path: pathlib.Path) -> None:
    with _store(tmp_path) as store:
        store.append([Sample("latency", "x", 0.1)])
        (recorded,) = store._conn.execute("SELECT recorded_at FROM samples").fetchone()
        assert recorded > 1.6e9


def test_default_path_honours_env(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTJIT_PROFILE", str(tmp_path / "deep" / "dir" / "p.sqlite"))
    assert ProfileStore.default_path() == tmp_path / "deep" / "dir" / "p.sqlite"
    with ProfileStore() as store:
        store.append([Sample("latency", "x", 0.1)])
    assert (tmp_path / "deep" / "dir" / "p.sqlite").is_file()
    monkeypatch.delenv("AGENTJIT_PROFILE")
    assert ProfileStore.default_path().parts[-3:] == (".cache", "agentjit", "profile.sqlite")


def test_memory_store() -> None:
    with ProfileStore(":memory:") as store:
        store.append([Sample("trips", "l", 3.0)])
        assert store.values("trips", "l").tolist() == [3.0]


@pytest.mark.parametrize(
    ("sample", "match"),
    [
        (Sample("speed", "x", 1.0), "unknown kind 'speed'; expected one of latency"),
        (Sample("latency", "x", -0.1), "negative; expected seconds >= 0"),
        (Sample("latency", "x", float("nan")), "expected a finite number"),
        (Sample("branch", "x", 0.5), "expected 1 .taken. or 0"),
        (Sample("latency", "", 0.1), "expected a non-empty string"),
        (Sample("latency", "x", 0.1, prompt_tokens=-3), "expected an integer >= 0"),
    ],
)
def test_append_rejects_bad_samples(tmp_path: pathlib.Path, sample: Sample, match: str) -> None:
    with _store(tmp_path) as store:
        with pytest.raises(ValueError, match=match):
            store.append([Sample("latency", "ok", 0.1), sample])
        assert _rows(store) == []


# ---- backends ----

BY_BACKEND = [
    Sample("latency", "shop.search", 0.010, backend="cdp"),
    Sample("latency", "shop.search", 0.012, backend="cdp"),
    Sample("latency", "shop.search", 0.200, backend="selenium"),
    Sample("latency", "shop.search", 0.500),  # backend-agnostic: recorded before backends were
    Sample("latency", "shop.view", 0.300),
    Sample("trips", "a.agent:7:5", 4.0, backend="cdp"),
    Sample("trips", "a.agent:7:5", 6.0, backend="selenium"),
]


def test_latencies_are_read_for_one_backend_with_an_agnostic_fallback(
    tmp_path: pathlib.Path,
) -> None:
    with _store(tmp_path) as store:
        store.append(BY_BACKEND)
        assert store.backend == "cdp"  # the runtime's default backend
        assert store.values("latency", "shop.search").tolist() == [0.010, 0.012]
        selenium = store.for_backend("selenium")
        assert selenium.values("latency", "shop.search").tolist() == [0.200]
        # No samples of this backend for the key: the backend-agnostic ones.
        assert selenium.values("latency", "shop.view").tolist() == [0.300]
        assert store.for_backend("webkit").values("latency", "shop.search").tolist() == [0.5]
        # None reads every latency; counts do not depend on the backend.
        assert store.for_backend(None).values("latency", "shop.search").size == 4
        assert selenium.values("trips", "a.agent:7:5").tolist() == [4.0, 6.0]


def test_the_cost_model_predicts_from_the_backend_it_compiles_for(tmp_path: pathlib.Path) -> None:
    effects = Effects(navigates=True)
    with _store(tmp_path) as store:
        store.append(
            Sample("latency", "shop.go", 0.01 * (1 + i % 3), backend="cdp") for i in range(30)
        )
        store.append(
            Sample("latency", "shop.go", 1.0 * (1 + i % 3), backend="selenium") for i in range(30)
        )
        cdp = CostModel(store).tool_latency("shop.go", effects)
        selenium = CostModel(store.for_backend("selenium")).tool_latency("shop.go", effects)
        assert cdp.n == selenium.n == 30
        assert selenium.quantile(0.5) > 50 * cdp.quantile(0.5)


def test_a_version_1_store_is_upgraded_in_place(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE samples (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL,
        value REAL NOT NULL, prompt_tokens INTEGER, output_tokens INTEGER, run TEXT,
        recorded_at REAL NOT NULL);
        CREATE INDEX samples_kind_key ON samples (kind, key);
        INSERT INTO samples (kind, key, value, run, recorded_at)
            VALUES ('latency', 'shop.search', 0.25, 'r0', 100.0);
        PRAGMA user_version = 1;"""
    )
    conn.close()
    with ProfileStore(path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert list(store.rows()) == [
            Sample("latency", "shop.search", 0.25, run="r0", recorded_at=100.0)
        ]
        assert store.values("latency", "shop.search").tolist() == [0.25]  # the fallback
        store.append([Sample("latency", "shop.search", 0.01, backend="cdp")])
        assert store.values("latency", "shop.search").tolist() == [0.01]
    with ProfileStore(path) as again:  # opening it again changes nothing
        assert [s.backend for s in again.rows()] == [None, "cdp"]


def test_backend_travels_through_json_lines(tmp_path: pathlib.Path) -> None:
    with _store(tmp_path, "a.sqlite") as a, _store(tmp_path, "b.sqlite") as b:
        a.append(BY_BACKEND)
        buf = io.StringIO()
        a.export_jsonl(buf)
        lines = [json.loads(line) for line in buf.getvalue().splitlines()]
        assert [x.get("backend") for x in lines[:4]] == ["cdp", "cdp", "selenium", None]
        b.import_jsonl(io.StringIO(buf.getvalue()))
        assert list(a.rows()) == list(b.rows())
    with _store(tmp_path, "c.sqlite") as c, pytest.raises(ProfileError, match="backend 3"):
        c.import_jsonl(io.StringIO('{"kind": "latency", "key": "k", "value": 1, "backend": 3}'))


# ---- JSON lines ----


def test_export_import_round_trip(tmp_path: pathlib.Path) -> None:
    with _store(tmp_path, "a.sqlite") as a, _store(tmp_path, "b.sqlite") as b:
        a.append(SAMPLES)
        buf = io.StringIO()
        assert a.export_jsonl(buf) == len(SAMPLES)
        assert b.import_jsonl(io.StringIO(buf.getvalue())) == len(SAMPLES)
        assert _rows(a) == _rows(b)
        only = io.StringIO()
        assert a.export_jsonl(only, kind="trips") == 1
        assert json.loads(only.getvalue())["key"] == "a.agent:7:5"


GOOD = '{"kind": "latency", "key": "shop.search", "value": 0.2}'


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ('{"kind": "latency", "value": 0.2}', "missing key; expected fields kind, key and value"),
        ('{"kind": "latency", "key": "k", "value": "fast"}', "value 'fast' is not a number"),
        ('{"kind": "speed", "key": "k", "value": 1}', "unknown kind 'speed'; expected one of"),
        ('{"kind": "latency", "key": "k", "value": -1}', "negative; expected seconds >= 0"),
        ('{"kind": "latency", "key": "k", "value": 1, "colour": 1}', "unknown field 'colour'"),
        ("[1, 2]", "found a JSON list; expected an object"),
        ("{not json", "invalid JSON"),
    ],
)
def test_bad_import_line_is_located_and_writes_nothing(
    tmp_path: pathlib.Path, bad: str, match: str
) -> None:
    text = f"{GOOD}\n\n{GOOD}\n{bad}\n{GOOD}\n"
    with _store(tmp_path) as store:
        with pytest.raises(ProfileError, match=match) as info:
            store.import_jsonl(io.StringIO(text), "samples.jsonl")
        assert _rows(store) == []
    diag = info.value.diagnostic
    assert diag.code == "profile-import"
    assert (diag.loc.file, diag.loc.line, diag.loc.col) == ("samples.jsonl", 4, 1)
    assert str(info.value).startswith("samples.jsonl:4:1: error[profile-import]: ")


def test_wrong_schema_version_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.sqlite"
    ProfileStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    with pytest.raises(ProfileError, match="schema version is 7") as info:
        ProfileStore(path)
    assert info.value.diagnostic.code == "profile-open"


def test_foreign_sqlite_file_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()
    with pytest.raises(ProfileError, match=r"not an agentjit profile store.*users"):
        ProfileStore(path)


def test_non_sqlite_file_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the samples you are looking for\n" * 40)
    with pytest.raises(ProfileError, match=r"notes\.txt is not an agentjit profile store") as info:
        ProfileStore(path)
    assert info.value.diagnostic.code == "profile-open"


def test_concurrent_reader_and_writer(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.sqlite"
    ProfileStore(path).close()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with ProfileStore(path) as writer:
                for i in range(200):
                    writer.append([Sample("latency", "k", 0.001 * (i + 1))])
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    thread = threading.Thread(target=write)
    with ProfileStore(path) as reader:
        thread.start()
        seen = [reader.values("latency", "k").size for _ in range(200)]
        thread.join()
        assert not errors
        assert seen == sorted(seen)
        assert reader.values("latency", "k").size == 200
    with ProfileStore(path) as again:
        assert np.all(np.diff(again.values("latency", "k")) > 0)


# ---- the `profile` subcommand ----


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentjit")
    add_profile_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_import_show_export(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "p.sqlite")
    src = tmp_path / "in.jsonl"
    lines = [{"kind": "latency", "key": "shop.search", "value": 0.2 + 0.01 * i} for i in range(5)]
    lines += [{"kind": "branch", "key": "a.agent:3:5", "value": v} for v in (1, 1, 0)]
    lines.append({"kind": "trips", "key": "a.agent:5:5", "value": 4})
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert _run(["profile", "import", str(src), "--db", db]) == 0
    assert capsys.readouterr().out.strip() == f"imported 9 samples into {db}"

    assert _run(["profile", "show", "--db", db]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["KIND", "KEY", "N", "SOURCE", "MEDIAN", "MEAN", "P95"]
    by_key = {line.split()[1]: line.split() for line in table[1:]}
    assert by_key["shop.search"][:4] == ["latency", "shop.search", "5", "fitted"]
    assert by_key["a.agent:3:5"][2] == "3" and "p=0.600" in by_key["a.agent:3:5"]
    assert by_key["a.agent:5:5"][2] == "1"

    assert _run(["profile", "show", "--db", db, "--json", "--kind", "branch"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == [
        {"kind": "branch", "key": "a.agent:3:5", "n": 3, "source": "fitted", "probability": 0.6}
    ]

    out = tmp_path / "out.jsonl"
    assert _run(["profile", "export", "--db", db, "-o", str(out), "--kind", "latency"]) == 0
    assert [json.loads(x)["value"] for x in out.read_text().splitlines()] == [
        x["value"] for x in lines[:5]
    ]
    assert _run(["profile", "export", "--db", db]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 9


def test_cli_show_missing_db_creates_nothing(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "none.sqlite"
    assert _run(["profile", "show", "--db", str(db)]) == 0
    assert "no samples" in capsys.readouterr().out
    assert not db.exists()


def test_cli_bad_import_raises_located_error(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(GOOD + "\n" + '{"kind": "latency", "key": "k"}\n')
    db = tmp_path / "p.sqlite"
    with pytest.raises(ProfileError, match=r"in\.jsonl:2:1"):
        _run(["profile", "import", str(src), "--db", str(db)])
    with ProfileStore(db) as store:
        assert store.keys() == []
    with pytest.raises(ProfileError, match="cannot read"):
        _run(["profile", "import", str(tmp_path / "absent.jsonl"), "--db", str(db)])
