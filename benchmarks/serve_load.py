"""Load test of ``rnn-zoo serve``: throughput and latency at several concurrencies.

    python -m benchmarks.serve_load --model runs/names --model runs/g2p --output results/

For each ``--model`` (a run directory of ``rnn-zoo train``), the script
starts ``rnn-zoo serve`` in a subprocess on a free port of 127.0.0.1, waits
until it is ready, and at each ``--concurrency`` level runs that many client
threads, each sending ``POST /v1/models/NAME:predict`` requests (one instance
each unless ``--instances``, inputs cycling through a fixed list of real
surnames or words of varied lengths) over its own keep-alive connection. A
level stops after ``--requests`` requests or ``--duration`` seconds, whichever
comes first. Every answer that is not HTTP 200 with a ``predictions`` list of
the right length, and every connection error, counts as a failure (the script
exits with status 1 when there is any). Results go to ``--output`` as
``serve_load.json`` and ``serve_load.md``; server logs as ``server_NAME.log``.

Loopback only; the clients share the machine with the server, so on a small
machine they take CPU from it. Nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time

import numpy as np

HOST = "127.0.0.1"
# Inputs per recipe: real surnames of several languages and English words,
# short and long, so that batches and requests mix lengths.
INPUTS = {
    "names": [
        "Rossi",
        "Schmidt",
        "Nowak",
        "Li",
        "Kowalczyk",
        "Van der Berg",
        "Fitzgerald",
        "Nguyen",
        "Garcia",
        "Ostrowski",
        "Johansson",
        "Virtanen",
        "Horvat",
        "O'Brien",
        "Tamm",
        "Dlamini",
        "Moreau",
        "Bianchi",
        "Wojciechowska",
        "Lindqvist",
        "Kovacs",
        "Silva",
        "Kim",
        "Dubois",
    ],  # fmt: skip
    "g2p": [
        "photobomb",
        "chatbot",
        "unfriend",
        "cat",
        "serving",
        "recurrent",
        "international",
        "ox",
        "zeitgeist",
        "throughput",
        "latency",
        "misunderstanding",
        "queue",
        "rhythm",
        "knight",
        "psychology",
    ],  # fmt: skip
}


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def request(
    port: int, method: str, path: str, body=None, timeout: float = 60.0
) -> tuple[int, object]:
    """One HTTP request to 127.0.0.1:port: (status, parsed JSON body or text)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        if body is not None and not isinstance(body, bytes | str):
            body = json.dumps(body)
        connection.request(method, path, body=body)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data.decode("utf-8", errors="replace")


class ServerProcess:
    """``rnn-zoo serve`` in a subprocess on 127.0.0.1; a context manager.

    Args:
        model_dir: what ``rnn-zoo serve`` serves.
        name: the model name (``--name``).
        log_path: where the server's output goes (a file, so that a full
            pipe never blocks the server).
        extra_args: more ``rnn-zoo serve`` flags.
        startup_timeout: seconds to wait for the model to be ready.
    """

    def __init__(
        self,
        model_dir: str,
        *,
        name: str,
        log_path: str,
        extra_args: tuple = (),
        startup_timeout: float = 300.0,
    ):
        self.model_dir = model_dir
        self.name = name
        self.log_path = log_path
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.port = None
        self.process = None

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def start(self) -> ServerProcess:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "rnn_zoo.cli",
            "serve",
            self.model_dir,
            "--port",
            str(self.port),
            "--host",
            HOST,
            "--name",
            self.name,
            *self.extra_args,
        ]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"rnn-zoo serve exited with status {self.process.returncode}:\n"
                    + self.log()[-4000:]
                )
            with contextlib.suppress(OSError):
                status, _ = request(
                    self.port, "GET", f"/v1/models/{self.name}", timeout=5
                )
                if status == 200:
                    return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(
            f"rnn-zoo serve was not ready after {self.startup_timeout} s:\n"
            + self.log()[-4000:]
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _client(port, path, bodies, expected, stop_at, budget, lock, results, offset):
    """One client thread: sends bodies in turn until the budget or time runs out."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    i = offset
    try:
        while time.monotonic() < stop_at:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            body = bodies[i % len(bodies)]
            i += 1
            start = time.perf_counter()
            ok = False
            try:
                connection.request(
                    "POST",
                    path,
                    body=body,
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                data = response.read()
                if response.status == 200:
                    predictions = json.loads(data).get("predictions")
                    ok = isinstance(predictions, list) and len(predictions) == expected
            except (OSError, http.client.HTTPException, ValueError):
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
            results.append((time.perf_counter() - start, ok))
    finally:
        connection.close()


def run_level(
    port: int,
    name: str,
    bodies: list[bytes],
    expected: int,
    *,
    concurrency: int,
    requests: int,
    duration: float,
) -> dict:
    """``concurrency`` clients until ``requests`` are sent or ``duration`` passes."""
    path = f"/v1/models/{name}:predict"
    results: list = []
    lock = threading.Lock()
    budget = [requests]
    start = time.perf_counter()
    stop_at = time.monotonic() + duration
    threads = [
        threading.Thread(
            target=_client,
            args=(port, path, bodies, expected, stop_at, budget, lock, results, k),
        )
        for k in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    latencies = np.array([t for t, ok in results if ok]) * 1000
    failures = sum(1 for _, ok in results if not ok)
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "failures": failures,
        "seconds": round(elapsed, 3),
        "throughput_rps": round(len(latencies) / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(float(np.percentile(latencies, 50)), 2)
        if len(latencies)
        else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 2)
        if len(latencies)
        else None,
    }


def _bodies(recipe: str | None, instances: int) -> list[bytes]:
    words = INPUTS.get(recipe)
    if words is None:
        raise ValueError(
            f"no load-test inputs for recipe {recipe!r}; known: {sorted(INPUTS)}"
        )
    bodies = []
    for i in range(len(words)):
        batch = [words[(i + k) % len(words)] for k in range(instances)]
        bodies.append(json.dumps({"instances": batch}).encode())
    return bodies


def _markdown(rows: list[dict]) -> str:
    lines = [
        "| model | concurrency | requests | failures | throughput (req/s) | p50 (ms) | p99 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['concurrency']} | {row['requests']} | "
            f"{row['failures']} | {row['throughput_rps']:.1f} | {row['p50_ms']} | "
            f"{row['p99_ms']} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load-test rnn-zoo serve on 127.0.0.1 (see the module docstring)."
    )
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="DIR",
        help="a run directory of `rnn-zoo train names` or `g2p` (repeatable)",
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 8, 32], metavar="C"
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="most requests per level"
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="most seconds per level"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="requests sent before measuring"
    )
    parser.add_argument(
        "--instances", type=int, default=1, help="instances per request"
    )
    parser.add_argument("--output", required=True, metavar="DIR")
    args = parser.parse_args(argv)
    for flag in ("requests", "warmup", "instances"):
        if getattr(args, flag) < (0 if flag == "warmup" else 1):
            parser.error(f"--{flag} must be positive, got {getattr(args, flag)}")
    if args.duration <= 0 or any(c < 1 for c in args.concurrency):
        parser.error("--duration and every --concurrency must be positive")
    return args


def main(argv=None) -> dict:
    """Runs the load test; returns what it writes to serve_load.json."""
    from rnn_zoo import serving

    args = parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    # On a shared machine the other jobs' load is part of the result.
    load_before = os.getloadavg()
    rows = []
    for model_dir in args.model:
        target = serving.resolve(model_dir)
        bodies = _bodies(target.recipe, args.instances)
        log_path = os.path.join(args.output, f"server_{target.name}.log")
        with ServerProcess(model_dir, name=target.name, log_path=log_path) as server:
            if args.warmup:
                run_level(
                    server.port,
                    target.name,
                    bodies,
                    args.instances,
                    concurrency=1,
                    requests=args.warmup,
                    duration=args.duration,
                )
            for concurrency in args.concurrency:
                row = run_level(
                    server.port,
                    target.name,
                    bodies,
                    args.instances,
                    concurrency=concurrency,
                    requests=args.requests,
                    duration=args.duration,
                )
                row = {"model": target.name, **row}
                print(json.dumps(row), flush=True)
                rows.append(row)
    result = {
        "command": "python -m benchmarks.serve_load "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1min_before_after": [
                round(load_before[0], 2),
                round(os.getloadavg()[0], 2),
            ],
        },
        "instances_per_request": args.instances,
        "rows": rows,
        "failures": sum(row["failures"] for row in rows),
    }
    with open(os.path.join(args.output, "serve_load.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.output, "serve_load.md"), "w") as f:
        f.write(_markdown(rows))
    print(_markdown(rows))
    return result


if __name__ == "__main__":
    sys.exit(1 if main()["failures"] else 0)
