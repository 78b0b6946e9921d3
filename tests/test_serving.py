"""rnn-zoo serve: a real KServe model server in a subprocess, asked over HTTP.

One module-scoped server per model: the names classifier and the g2p
encoder-decoder, each trained by its recipe's smoke run. The tests check that
the server answers as the SavedModel called directly (and as rnn-zoo
predict), refuses bad requests with a 4xx naming the problem and keeps
serving, reports status and metadata, and that an input's answer does not
depend on the lengths of the other inputs in its request. The names server
runs with short timeouts and a small connection limit, which raw-socket
clients check; the last tests stop both servers by SIGINT and SIGTERM during
a request. The request checks on numeric and multi-input signatures run
in-process on a small SavedModel.
"""

import http.client
import json
import os
import re
import signal
import socket
import time

import keras
import numpy as np
import pytest

from benchmarks import serve_load
from rnn_zoo import cli, serving

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the recipes export SavedModels",
    ),
]

pytest.importorskip("kserve", reason='serving needs pip install "rnn_zoo[serve]"')

NAMES = ["Li", "Rossi", "Wojciechowska", "O'Brien", "Van der Berg", "Nguyen"]
WORDS = ["ox", "photobomb", "cat", "misunderstanding", "queue"]
MAX_INSTANCES = 16
# The names server's connection bounds (short, so that tests can wait them out).
HEADER_TIMEOUT = 1.0
KEEP_ALIVE_TIMEOUT = 1.0
MAX_CONNECTIONS = 3


# The same smoke runs as tests/recipes/test_{names,g2p}_recipe.py: trained
# once per session (tests/conftest.py), read-only here.
@pytest.fixture(scope="module")
def names_run(smoke_run):
    return smoke_run("names", "--units", "16")


@pytest.fixture(scope="module")
def g2p_run(smoke_run):
    return smoke_run("g2p", "--units", "16")


def _server(run_dir, name, log_dir, extra=()):
    return serve_load.ServerProcess(
        str(run_dir),
        name=name,
        log_path=str(log_dir / f"server_{name}.log"),
        extra_args=extra,
    )


@pytest.fixture(scope="module")
def names_server(names_run, tmp_path_factory):
    logs = tmp_path_factory.mktemp("serve_logs")
    # --name is left to its default (the recipe's name from run.json) by
    # giving the same name; the other flags are set to check them.
    flags = {
        "--max-instances": MAX_INSTANCES,
        "--header-timeout": HEADER_TIMEOUT,
        "--keep-alive-timeout": KEEP_ALIVE_TIMEOUT,
        "--max-connections": MAX_CONNECTIONS,
    }
    extra = [str(item) for flag in flags.items() for item in flag]
    with _server(names_run, "names", logs, extra) as server:
        yield server


@pytest.fixture(scope="module")
def g2p_server(g2p_run, tmp_path_factory):
    logs = tmp_path_factory.mktemp("serve_logs")
    with _server(g2p_run, "g2p", logs) as server:
        yield server


@pytest.fixture(scope="module")
def names_saved(names_run):
    import tensorflow as tf

    return tf.saved_model.load(str(names_run / "export"))


@pytest.fixture(scope="module")
def g2p_saved(g2p_run):
    import tensorflow as tf

    return tf.saved_model.load(str(g2p_run / "export"))


def _predict(server, body, name=None):
    return serve_load.request(
        server.port, "POST", f"/v1/models/{name or server.name}:predict", body
    )


def _ok(server, body):
    status, answer = _predict(server, body)
    assert status == 200, answer
    return answer


def _direct(saved, signature, **inputs):
    import tensorflow as tf

    outputs = saved.signatures[signature](
        **{key: tf.constant(value) for key, value in inputs.items()}
    )
    return {key: value.numpy() for key, value in outputs.items()}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


# Raw-socket clients for the connection tests, every wait bounded.

# How late a timeout of the server may act on a loaded machine and still pass.
SLACK = 5.0
BODY = json.dumps({"instances": NAMES[:2]}).encode()


def _connect(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=SLACK)


def _read_to_close(sock, limit, start):
    """Everything the server sends until it closes: (bytes, seconds since start)."""
    chunks = []
    while time.monotonic() - start < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return b"".join(chunks), time.monotonic() - start
        chunks.append(chunk)
    raise AssertionError(f"the server kept the connection open for {limit} s")


def _predict_head(server, length, expect_continue=True):
    return (
        f"POST /v1/models/{server.name}:predict HTTP/1.1\r\nHost: localhost\r\n"
        + ("Expect: 100-continue\r\n" if expect_continue else "")
        + f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _in_flight(server, body=BODY):
    """A predict request inside the server, waiting for its body."""
    sock = _connect(server)
    sock.sendall(_predict_head(server, len(body)))
    # uvicorn says 100 Continue when the route starts reading the body.
    answer = sock.recv(100)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n"), answer
    return sock


def _finish(sock, body=BODY):
    """Sends the body of an :func:`_in_flight` request: (status, answer)."""
    sock.sendall(body)
    response = http.client.HTTPResponse(sock)
    response.begin()
    answer = json.loads(response.read())
    sock.close()
    return response.status, answer


def _wait_for_log(server, text, start=0, limit=30.0):
    """The server's log from ``start`` once ``text`` is in it."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        log = server.log()[start:]
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the server's log:\n{server.log()[-3000:]}")


# --- names: answers ------------------------------------------------------------


def test_names_predictions_equal_the_savedmodel(names_server, names_saved):
    answer = _ok(names_server, {"instances": NAMES})
    direct = _direct(names_saved, "serving_default", names=NAMES)
    predictions = answer["predictions"]
    assert len(predictions) == len(NAMES)
    for i, prediction in enumerate(predictions):
        assert set(prediction) == {"label", "index", "probabilities", "truncated"}
        assert prediction["label"] == _text(direct["label"][i])
        assert prediction["index"] == direct["index"][i]
        # float32 -> JSON -> float32 is exact.
        np.testing.assert_array_equal(
            np.float32(prediction["probabilities"]), direct["probabilities"][i]
        )


def test_names_predictions_equal_rnn_zoo_predict(names_server, names_run, capsys):
    labels = _ok(names_server, {"signature_name": "labels", "inputs": {}})["outputs"]
    predictions = _ok(names_server, {"instances": NAMES})["predictions"]
    capsys.readouterr()
    assert cli.main(["predict", str(names_run), *NAMES]) == 0
    printed = capsys.readouterr().out.splitlines()
    width = max(len(name) for name in NAMES)
    expected = []
    for name, prediction in zip(NAMES, predictions):
        row = np.float32(prediction["probabilities"])
        best = row.argsort()[::-1][:3]
        answers = ", ".join(f"{labels[i]} {row[i]:.1%}" for i in best)
        expected.append(f"{name:<{width}}  {answers}")
    assert printed == expected


def test_columnar_format_and_signature_name(names_server):
    rows = _ok(names_server, {"instances": NAMES})["predictions"]
    columns = _ok(names_server, {"inputs": {"names": NAMES}})["outputs"]
    assert columns == {
        key: [row[key] for row in rows]
        for key in ("label", "index", "probabilities", "truncated")
    }
    # One input: "inputs" may be the list itself.
    assert _ok(names_server, {"inputs": NAMES})["outputs"] == columns
    classify = _ok(names_server, {"instances": NAMES, "signature_name": "classify"})
    assert classify["predictions"] == rows
    # Binary strings as TensorFlow Serving sends them.
    b64 = _ok(names_server, {"instances": [{"b64": "Um9zc2k="}]})["predictions"]
    assert b64 == _ok(names_server, {"instances": ["Rossi"]})["predictions"]


# --- names: bad requests -------------------------------------------------------

BAD_REQUESTS = [
    (b'{"instances": ["Rossi"', "not valid JSON"),
    (b'{"instances": [NaN]}', "NaN is not a JSON number"),
    (b'["Rossi"]', "must be a JSON object"),
    ({"instances": ["Rossi", 5]}, "instance 1 of input 'names' must be a string"),
    ({"instances": [["Rossi"]]}, "nested one level too deep"),
    ({"instances": [{"surname": "Rossi"}]}, "got an object with keys ['surname']"),
    ({"instances": [None]}, 'must be a string (or {"b64": "..."}), got null'),
    ({"instances": "Rossi"}, '"instances" must be a list'),
    ({"instances": []}, '"instances" is empty'),
    ({"inputs": {"names": []}}, "is empty"),
    ({"instances": ["Rossi"] * (MAX_INSTANCES + 1)}, "at most 16 per request"),
    ({"instances": ["x" * 25]}, "25 characters long; this server accepts at most 24"),
    (
        {"instances": ["Rossi"], "signature_name": "nope"},
        "unknown signature_name 'nope'",
    ),
    (
        {"instances": ["Rossi"], "signature_name": 7},
        '"signature_name" must be a string',
    ),
    ({"instances": ["Rossi"], "inputs": ["Rossi"]}, 'exactly one of "instances"'),
    ({"signature_name": "classify"}, 'exactly one of "instances"'),
    ({"instance": ["Rossi"]}, "unknown request field(s) ['instance']"),
    ({"inputs": {"names": "Rossi"}}, "must be a list (one entry per instance)"),
    ({"instances": [{"b64": "%%"}]}, "must hold base64 text"),
    ({"signature_name": "labels", "instances": ["x"]}, "takes no inputs"),
]


def test_bad_requests_get_400_naming_the_problem_and_the_server_keeps_serving(
    names_server,
):
    before = _ok(names_server, {"instances": NAMES})
    for body, fragment in BAD_REQUESTS:
        status, answer = _predict(names_server, body)
        assert status == 400, (body, status, answer)
        assert isinstance(answer, dict) and set(answer) == {"error"}, (body, answer)
        assert fragment in answer["error"], (body, answer["error"])
    for method, path, body in [
        ("POST", "/v1/models/nope:predict", {"instances": ["Rossi"]}),
        ("GET", "/v1/models/nope", None),
        ("GET", "/v1/models/nope/metadata", None),
    ]:
        status, answer = serve_load.request(names_server.port, method, path, body)
        assert status == 404, (path, answer)
        assert "nope" in answer["error"] and "does not exist" in answer["error"]
    assert names_server.process.poll() is None
    assert _ok(names_server, {"instances": NAMES}) == before


def test_random_requests_never_get_a_server_error(names_server):
    import random

    rng = random.Random(7)
    items = ["", " ", "Rossi", "\u00e9", "\x00", "a" * 24, "a" * 25, "\ud800",
             "\u65e5\u672c", {"b64": "/w=="}, {"b64": 5}, 3, 2**70, 1.5, None,
             True, ["x"], {}]  # fmt: skip
    statuses = set()
    for _ in range(150):
        instances = [
            rng.choice(items) if rng.random() < 0.2 else rng.choice(items[:6])
            for _ in range(rng.randint(0, MAX_INSTANCES + 2))
        ]
        body = rng.choice(
            [
                {"instances": instances},
                {"inputs": instances},
                {"inputs": {"names": instances}},
                {
                    "instances": instances,
                    "signature_name": rng.choice(["classify", "labels", "x"]),
                },
                instances,
            ]
        )
        status, answer = _predict(names_server, body)
        assert status in (200, 400), (body, status, answer)
        statuses.add(status)
    assert statuses == {200, 400}
    assert len(_ok(names_server, {"instances": NAMES})["predictions"]) == len(NAMES)


def test_a_body_over_the_limit_is_refused_unread(names_server):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", names_server.port, timeout=30)
    try:
        # Declares more than the limit and sends little: the answer comes at once.
        connection.putrequest("POST", "/v1/models/names:predict")
        connection.putheader("Content-Length", str(serving.MAX_BODY_BYTES + 1))
        connection.endheaders(b'{"instances": ["Rossi"]}')
        response = connection.getresponse()
        assert response.status == 413
        assert "larger than" in json.loads(response.read())["error"]
    finally:
        connection.close()
    assert len(_ok(names_server, {"instances": NAMES})["predictions"]) == len(NAMES)


def test_status_metadata_and_kserve_health_routes(names_server):
    port = names_server.port
    status, answer = serve_load.request(port, "GET", "/v1/models/names")
    assert status == 200
    assert answer == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    status, answer = serve_load.request(port, "GET", "/v1/models/names/metadata")
    assert status == 200
    assert answer["model_spec"] == {
        "name": "names",
        "signature_name": "",
        "version": "1",
    }
    signatures = answer["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {"classify", "labels", "serving_default"}
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert default["inputs"]["names"]["dtype"] == "DT_STRING"
    assert default["inputs"]["names"]["tensor_shape"] == {"dim": [{"size": "-1"}]}
    outputs = default["outputs"]
    assert {key: value["dtype"] for key, value in outputs.items()} == {
        "label": "DT_STRING",
        "index": "DT_INT32",
        "probabilities": "DT_FLOAT",
        "truncated": "DT_BOOL",
    }
    assert outputs["probabilities"]["tensor_shape"] == {
        "dim": [{"size": "-1"}, {"size": "14"}]
    }
    assert signatures["labels"].get("inputs", {}) == {}
    assert answer["metadata"]["rnn_zoo"] == {
        "default_signature": "serving_default",
        "max_instances": MAX_INSTANCES,
        "max_length": 24,
    }
    # KServe's own health routes stay.
    assert serve_load.request(port, "GET", "/") == (200, {"status": "alive"})
    assert serve_load.request(port, "GET", "/v2/health/ready") == (200, {"ready": True})
    status, answer = serve_load.request(port, "GET", "/v2/models/names/ready")
    assert status == 200 and answer["ready"] is True


# --- connections: slow, idle, surplus and vanishing clients --------------------


def test_a_request_head_that_does_not_arrive_in_time_gets_408(names_server):
    mark = len(names_server.log())
    # Silent after connecting, or half a request line: 408, then closed.
    for start in (b"", b"GET /v1/models/na"):
        # From before connecting: the server's deadline starts later.
        connecting = time.monotonic()
        sock = _connect(names_server)
        sock.sendall(start)
        data, took = _read_to_close(sock, HEADER_TIMEOUT + SLACK, connecting)
        sock.close()
        assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
        assert took >= HEADER_TIMEOUT - 0.1
    # A byte every 0.2 s: the deadline runs from the connection all the same.
    sock = _connect(names_server)
    start = time.monotonic()
    with pytest.raises(OSError):
        for byte in b"GET /v1/models/names HTTP/1.1\r\nHost: localhost\r\n" * 4:
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
            if time.monotonic() - start > HEADER_TIMEOUT + SLACK:
                break
        # Not closed yet: these must fail, or nothing was raised.
        sock.sendall(b"x" * 65536)
        sock.sendall(b"x" * 65536)
    sock.close()
    assert time.monotonic() - start <= HEADER_TIMEOUT + SLACK + 1
    log = _wait_for_log(names_server, "(--header-timeout)", mark)
    line = "no complete request head within 1 s (--header-timeout)"
    assert log.count(line) == 3, log
    assert len(_ok(names_server, {"instances": NAMES})["predictions"]) == len(NAMES)


def test_an_idle_keep_alive_connection_is_closed(names_server):
    connection = http.client.HTTPConnection(
        "127.0.0.1", names_server.port, timeout=SLACK
    )
    for _ in range(2):
        # Used again before the timeout, the connection stays open.
        asking = time.monotonic()
        connection.request("POST", "/v1/models/names:predict", body=BODY)
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    # From before the last request: the timeout starts after its answer.
    limit = KEEP_ALIVE_TIMEOUT + SLACK
    data, took = _read_to_close(connection.sock, limit, asking)
    connection.close()
    assert data == b"" and took >= KEEP_ALIVE_TIMEOUT - 0.1


def test_a_request_beyond_max_connections_gets_503(names_server):
    # MAX_CONNECTIONS requests in flight (waiting for their bodies) hold
    # their connections; a request on one more is refused.
    busy = [_in_flight(names_server) for _ in range(MAX_CONNECTIONS)]
    status, answer = serve_load.request(names_server.port, "GET", "/v1/models/names")
    assert (status, answer) == (503, "Service Unavailable")
    # The requests in flight are answered; then there is room again.
    for sock in busy:
        status, answer = _finish(sock)
        assert status == 200 and len(answer["predictions"]) == 2, answer
    assert len(_ok(names_server, {"instances": NAMES})["predictions"]) == len(NAMES)
    assert "Exceeded concurrency limit." in names_server.log()


def test_a_client_that_disconnects_is_logged_without_a_traceback(names_server):
    mark = len(names_server.log())
    # Gone while sending its body: one line says so.
    sock = _in_flight(names_server)
    sock.sendall(BODY[:5])
    sock.close()
    log = _wait_for_log(names_server, "client disconnected", mark)
    assert (
        'client disconnected before sending the whole request body ("POST '
        '/v1/models/names:predict"); nothing was answered' in log
    )
    # Gone before its answer: the line comes if the server notices in time,
    # so only the absence of errors is certain.
    body = json.dumps({"instances": NAMES}).encode()
    sock = _connect(names_server)
    sock.sendall(_predict_head(names_server, len(body), expect_continue=False) + body)
    sock.close()
    assert len(_ok(names_server, {"instances": NAMES})["predictions"]) == len(NAMES)
    log = names_server.log()[mark:]
    for error in ("Traceback", "ERROR", "http_status:500", '" 500 '):
        assert error not in log, log


# --- variable-length batches ---------------------------------------------------


def test_names_answer_does_not_depend_on_the_other_inputs_lengths(names_server):
    # The same batch size and position, neighbours short or long: the padding
    # the batch gets is masked, so the answer is bit for bit the same.
    for position in range(3):
        short = ["Li", "Ng"]
        long = ["Wojciechowska", "Van der Berg"]
        with_short = short[:position] + ["Rossi"] + short[position:]
        with_long = long[:position] + ["Rossi"] + long[position:]
        a = _ok(names_server, {"instances": with_short})["predictions"][position]
        b = _ok(names_server, {"instances": with_long})["predictions"][position]
        assert a == b
    # Alone or in a mixed batch: the same label; probabilities equal to
    # float32 rounding (TensorFlow's CPU matrix products round the last bit
    # differently for different batch sizes; padding plays no part).
    batch = _ok(names_server, {"instances": NAMES})["predictions"]
    for name, in_batch in zip(NAMES, batch):
        (alone,) = _ok(names_server, {"instances": [name]})["predictions"]
        assert alone["label"] == in_batch["label"]
        assert alone["index"] == in_batch["index"]
        np.testing.assert_allclose(
            alone["probabilities"], in_batch["probabilities"], rtol=1e-5, atol=1e-7
        )


def test_g2p_predictions_equal_the_savedmodel_and_mixed_lengths(g2p_server, g2p_saved):
    answer = _ok(g2p_server, {"instances": WORDS})
    direct = _direct(g2p_saved, "serving_default", words=WORDS)
    keys = {"pronunciation", "hypotheses", "scores", "ids", "valid", "unknown"}
    for i, prediction in enumerate(answer["predictions"]):
        assert set(prediction) == keys
        assert prediction["pronunciation"] == _text(direct["pronunciation"][i])
        assert prediction["hypotheses"] == [_text(h) for h in direct["hypotheses"][i]]
        np.testing.assert_array_equal(
            np.float32(prediction["scores"]), direct["scores"][i]
        )
        np.testing.assert_array_equal(prediction["ids"], direct["ids"][i])
        assert prediction["valid"] is True
        assert prediction["unknown"] == direct["unknown"][i]
    named = _ok(g2p_server, {"instances": WORDS, "signature_name": "pronounce"})
    assert named == answer
    # Same batch size and position, short or long neighbours: bit-identical.
    a = _ok(g2p_server, {"instances": ["cat", "ox", "a"]})["predictions"][0]
    b = _ok(g2p_server, {"instances": ["cat", "misunderstanding", "zeitgeist"]})
    assert a == b["predictions"][0]
    # Alone: the same decoded ids; scores to float32 rounding.
    for word, in_batch in zip(WORDS, answer["predictions"]):
        (alone,) = _ok(g2p_server, {"instances": [word]})["predictions"]
        for key in keys - {"scores"}:
            assert alone[key] == in_batch[key], (word, key)
        np.testing.assert_allclose(
            alone["scores"], in_batch["scores"], rtol=1e-5, atol=1e-5
        )


def test_g2p_refuses_words_longer_than_the_export_takes(g2p_server, g2p_run):
    limit = json.loads((g2p_run / "run.json").read_text())["info"]["max_source_length"]
    status, answer = _predict(g2p_server, {"instances": ["cat", "x" * (limit + 1)]})
    assert status == 400
    assert (
        f"instance 1 of input 'words' is {limit + 1} characters long"
        in (answer["error"])
    )
    assert f"at most {limit}" in answer["error"]
    assert len(_ok(g2p_server, {"instances": ["x" * limit]})["predictions"]) == 1


# --- the load test -------------------------------------------------------------


def test_load_test_runs_with_tiny_bounds(names_run, g2p_run, tmp_path):
    result = serve_load.main(
        [
            "--model",
            str(names_run),
            "--model",
            str(g2p_run),
            "--concurrency",
            "1",
            "3",
            "--requests",
            "6",
            "--duration",
            "60",
            "--warmup",
            "2",
            "--output",
            str(tmp_path),
        ]
    )
    assert result["failures"] == 0
    assert [(r["model"], r["concurrency"]) for r in result["rows"]] == [
        ("names", 1),
        ("names", 3),
        ("g2p", 1),
        ("g2p", 3),
    ]
    for row in result["rows"]:
        assert row["requests"] == 6 and row["failures"] == 0
        assert row["throughput_rps"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0
    assert json.loads((tmp_path / "serve_load.json").read_text()) == result
    table = (tmp_path / "serve_load.md").read_text()
    assert "| names | 3 | 6 | 0 |" in table and "| g2p | 1 | 6 | 0 |" in table


# --- in-process: resolving DIR, the command line, numeric inputs ---------------


def test_resolve_finds_the_savedmodel_name_and_limit(names_run, tmp_path):
    for model_dir in (names_run, names_run / "export"):
        target = serving.resolve(model_dir)
        assert target.saved_model == str(names_run / "export")
        assert (target.name, target.recipe, target.max_length) == ("names", "names", 24)
    with pytest.raises(FileNotFoundError, match="no SavedModel in"):
        serving.resolve(tmp_path)
    # The export recorded its own limit (the recipe's name plays no part).
    assert serving.read_export_info(names_run / "export") == {"max_length": 24}


def _fake_export(directory, limits=None, run=None):
    """A directory that resolve() takes for a run with an export."""
    export = directory / "export"
    export.mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    if limits is not None:
        serving.write_export_info(export, **limits)
    if run is not None:
        (directory / "run.json").write_text(json.dumps(run))
    return directory


def test_resolve_refuses_a_damaged_run_json(tmp_path):
    from rnn_zoo.training.run import RunFileError

    bad = _fake_export(tmp_path / "bad", {"max_length": 5}, {"recipe": 3})
    with pytest.raises(RunFileError, match=r"run.json: field 'recipe'.*received 3"):
        serving.resolve(bad)
    (bad / "run.json").write_text("{")
    with pytest.raises(RunFileError, match="run.json: must be the JSON"):
        serving.resolve(bad)


def test_the_limit_comes_from_the_export_then_from_an_old_runs_info(tmp_path):
    own = _fake_export(tmp_path / "own", {"max_length": 5}, {"recipe": "mine"})
    assert serving.resolve(own).max_length == 5
    # The export's record wins over what an old run.json says.
    both = _fake_export(
        tmp_path / "both",
        {"max_length": 5},
        {"recipe": "g2p", "info": {"max_source_length": 9}},
    )
    assert serving.resolve(both).max_length == 5
    # A run directory written before exports recorded their limits.
    old = _fake_export(
        tmp_path / "old", None, {"recipe": "g2p", "info": {"max_source_length": 9}}
    )
    assert serving.resolve(old).max_length == 9
    bare = _fake_export(tmp_path / "bare")
    assert serving.resolve(bare).max_length is None
    (bare / "export" / serving.EXPORT_INFO_FILE).write_text("{not json")
    assert serving.resolve(bare).max_length is None


@pytest.mark.parametrize(
    "limits, fragment",
    [
        ({"max_length": 0}, "`max_length` must be a positive integer"),
        ({"max_length": True}, "`max_length` must be a positive integer"),
        ({"max_steps": 3}, "Received: ['max_steps']"),
    ],
)
def test_write_export_info_checks_the_limits(limits, fragment, tmp_path):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        serving.write_export_info(tmp_path, **limits)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--port", "0"], "--port must be between 1 and 65535, got 0"),
        (["--port", "70000"], "--port must be between 1 and 65535, got 70000"),
        (
            ["--port", "8501", "--max-instances", "0"],
            "--max-instances must be a positive",
        ),
        (["--port", "8501", "--max-length", "-3"], "--max-length must be a positive"),
        (["--port", "8501", "--name", "a/b"], "`name` must be letters, digits"),
        (
            ["--port", "8501", "--header-timeout", "0"],
            "argument --header-timeout: expected a positive number of seconds, got '0'",
        ),
        (
            ["--port", "8501", "--keep-alive-timeout", "nan"],
            "argument --keep-alive-timeout: expected a positive number of seconds",
        ),
        (
            ["--port", "8501", "--max-connections", "0"],
            "--max-connections must be a positive integer, got 0",
        ),
    ],
)
def test_serve_command_errors(names_run, argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", str(names_run), *argv])
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_serve_command_refuses_a_taken_port(names_run, capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["serve", str(names_run), "--port", str(port)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on --host 127.0.0.1 --port {port}" in err
    assert "in use" in err


def test_serve_command_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "DIR",
        "--port",
        "--host",
        "--name",
        "--max-instances",
        "--max-length",
        "--header-timeout",
        "--keep-alive-timeout",
        "--max-connections",
    ):
        assert flag in out


def test_serve_command_needs_a_savedmodel(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", str(tmp_path), "--port", "8501"])
    assert "no SavedModel in" in capsys.readouterr().err


@pytest.fixture(scope="module")
def numeric_endpoint(tmp_path_factory):
    """A SavedModel with float, int and bool inputs, served in-process."""
    import tensorflow as tf

    class Scorer(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec((None, None, 3), tf.float32, name="frames"),
                tf.TensorSpec((None,), tf.int32, name="lengths"),
                tf.TensorSpec((None,), tf.bool, name="flags"),
            ]
        )
        def score(self, frames, lengths, flags):
            steps = tf.sequence_mask(lengths, tf.shape(frames)[1], tf.float32)
            total = tf.reduce_sum(frames * steps[..., None], axis=[1, 2])
            return {"total": total, "flipped": tf.logical_not(flags)}

    module = Scorer()
    path = str(tmp_path_factory.mktemp("numeric") / "scorer")
    tf.saved_model.save(module, path, signatures={"serving_default": module.score})
    return serving.SavedModelEndpoint(
        path, name="scorer", max_instances=4, max_length=4
    )


def test_numeric_inputs_rows_and_columns(numeric_endpoint):
    instances = [
        {"frames": [[1, 2, 3], [4, 5, 6.5]], "lengths": 1, "flags": True},
        {"frames": [[1, 1, 1], [2, 2, 2]], "lengths": 2.0, "flags": False},
    ]
    rows = numeric_endpoint.predict({"instances": instances})["predictions"]
    assert rows == [{"total": 6.0, "flipped": False}, {"total": 9.0, "flipped": True}]
    columns = numeric_endpoint.predict(
        json.dumps(
            {
                "inputs": {
                    key: [instance[key] for instance in instances]
                    for key in ("frames", "lengths", "flags")
                }
            }
        )
    )
    assert columns == {"outputs": {"total": [6.0, 9.0], "flipped": [False, True]}}


def _frames(frames, lengths=1, flags=True):
    return {"instances": [{"frames": frames, "lengths": lengths, "flags": flags}]}


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"instances": [[[1, 2, 3]]]}, "instance 0 must be an object with the inputs"),
        (
            {"instances": [{"frames": [[1, 2, 3]], "lengths": 1}]},
            "must have exactly the inputs ['flags', 'frames', 'lengths']",
        ),
        (
            _frames([[1, 2]]),
            "instance 0 of input 'frames' at [0] must have 3 entries, got 2",
        ),
        (
            _frames([[1, "2", 3]]),
            "frames' at [0][1] must be a number, got the string '2'",
        ),
        (_frames([[1, True, 3]]), "must be a number, got the boolean true"),
        (_frames([1, 2, 3]), "frames' at [0] must be a list (1 more level of nesting)"),
        (_frames([[[1], 2, 3]]), "nested one level too deep"),
        (_frames([]), "instance 0 of input 'frames' is an empty list"),
        (_frames([[1, 2, 3]] * 5), "has 5 steps; this server accepts at most 4"),
        (_frames([[1e39, 2, 3]]), "must be a finite float32 number"),
        (_frames([[10**400, 2, 3]]), "must be a finite float32 number"),
        (
            b'{"instances": [{"frames": [[1e400, 2, 3]], "lengths": 1, "flags": true}]}',
            "finite",
        ),
        (_frames([[1, 2, 3]], lengths=1.5), "input 'lengths' must be an integer"),
        (_frames([[1, 2, 3]], lengths=2**40), "must fit int32"),
        (_frames([[1, 2, 3]], flags=1), "input 'flags' must be true or false"),
        (
            {
                "instances": [
                    {"frames": [[1, 2, 3]], "lengths": 1, "flags": True},
                    {"frames": [[1, 2, 3], [4, 5, 6]], "lengths": 2, "flags": True},
                ]
            },
            "instances of input 'frames' differ in shape: instance 0 has [1, 3], "
            "instance 1 has [2, 3]; pad them to one shape",
        ),
        (
            {"inputs": {"frames": [[[1, 2, 3]]], "lengths": [1, 1], "flags": [True]}},
            'the "inputs" differ in batch size',
        ),
        (
            {"inputs": {"frames": [[[1, 2, 3]]]}},
            '"inputs" must be an object with exactly',
        ),
        (
            {"instances": [_frames([[1, 2, 3]])["instances"][0]] * 5},
            "at most 4 per request",
        ),
    ],
)
def test_numeric_inputs_bad_requests(numeric_endpoint, body, fragment):
    with pytest.raises(serving.RequestError) as error:
        numeric_endpoint.predict(body)
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ({"header_timeout": 0}, "`header_timeout` must be a positive, finite number"),
        ({"keep_alive_timeout": float("inf")}, "Received: keep_alive_timeout=inf"),
        ({"max_connections": 0}, "`max_connections` must be a positive integer"),
    ],
)
def test_serve_checks_its_connection_bounds(arguments, fragment, tmp_path):
    # Checked before anything is loaded (tmp_path holds no model).
    with pytest.raises(ValueError, match=re.escape(fragment)):
        serving.serve(tmp_path, port=8501, **arguments)


def test_a_signal_before_serving_stops_it_and_the_handlers_come_back():
    import threading

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers belong to the main thread")
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    state = {}
    # Before the server exists (loading the model): serve() stops early.
    with pytest.raises(serving._StoppedEarly, match="SIGTERM"):
        with serving._stop_on_signals(state):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert signal.getsignal(signal.SIGTERM) is before[signal.SIGTERM]

    # Serving: the server is asked to stop (uvicorn's own handler does that
    # while it serves, then raises the signal again for this one).
    class Server:
        should_exit = False

    state["server"] = Server()
    with serving._stop_on_signals(state):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100):
            if state["server"].should_exit:
                break
            time.sleep(0.01)
    assert state["server"].should_exit
    assert signal.getsignal(signal.SIGINT) is before[signal.SIGINT]


# --- last in this file: signals stop the module's servers ---------------------


@pytest.mark.parametrize(
    "signum, which, body",
    [
        (signal.SIGINT, "names_server", BODY),
        (signal.SIGTERM, "g2p_server", json.dumps({"instances": WORDS}).encode()),
    ],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_stops_the_server_after_the_requests_in_flight(
    signum, which, body, request
):
    # These stop the servers the tests above share (a server per test would
    # double this file's startup time), so they come last.
    server = request.getfixturevalue(which)
    sock = _in_flight(server, body)
    mark = len(server.log())
    server.process.send_signal(signum)
    _wait_for_log(server, "Waiting for connections to close", mark)
    # No new connections, but the request in flight gets its answer.
    with pytest.raises(ConnectionRefusedError):
        _connect(server)
    status, answer = _finish(sock, body)
    assert status == 200, answer
    assert len(answer["predictions"]) == len(json.loads(body)["instances"])
    assert server.process.wait(timeout=60) == 0
    log = server.log()[mark:]
    assert "Finished server process" in log
    assert "Traceback" not in log, log
