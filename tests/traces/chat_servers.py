"""OpenAI-compatible servers for the tests, started for real on 127.0.0.1.

* ``ServedModel``: ``transformers serve`` on a tiny local model (no network), restartable on its
  port, counting the chat requests it answered (from its access log).
* ``ReasonerAPI``: a small HTTP server that answers as DeepSeek's documented chat API does for
  ``deepseek-reasoner`` (the reasoning apart, in ``message.reasoning_content``), which cannot be
  reached from here; it can answer 429 (with Retry-After) or 500 first, and records what it was sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.web_servers import JSONHandler, free_port, stop, wait_for


class ServedModel:
    """``transformers serve <model dir>`` (the CPU in float32 unless told), restartable on its port;
    ``requests()`` counts the chats it answered."""

    def __init__(self, model_dir: Path, log_path: Path, device: str = "cpu", dtype: str = "float32",
                 continuous: bool = False, start_timeout_s: float = 120) -> None:
        self.model_dir, self.log_path, self.port = model_dir, log_path, free_port()
        self.options = ["--device", device, "--dtype", dtype]
        if continuous:
            self.options.append("--continuous-batching")
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        command = [str(Path(sys.executable).parent / "transformers"), "serve", str(self.model_dir),
                   "--host", "127.0.0.1", "--port", str(self.port), *self.options]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        log = self.log_path.open("a")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(f"http://127.0.0.1:{self.port}/health", self.process, "transformers serve", self.log_path,
                 self.start_timeout_s)

    def stop(self) -> None:
        stop(self.process)

    def requests(self) -> int:
        """Chat requests answered so far (200s in the access log, over every start)."""
        return self.log_path.read_text().count('"POST /v1/chat/completions HTTP/1.1" 200')


class ReasonerAPI:
    """Answers ``/v1/chat/completions`` like DeepSeek's API for deepseek-reasoner: the reasoning in
    ``reasoning_content``, the answer in ``content`` (``answer`` to a problem; to any other request, a
    sentence naming it). ``fail_first`` answers that many requests with
    ``fail_status`` first (429 with Retry-After: 0, or 500)."""

    def __init__(
        self, answer: str = "Jaime Lerner", fail_first: int = 0, fail_status: int = 429, delay_s: float = 0.0
    ) -> None:
        self.answer, self.delay_s = answer, delay_s
        self.fail_first, self.fail_status = fail_first, fail_status
        self.received: list[dict] = []  # {"authorization": ..., "body": ...} per request, failures too
        self.in_flight = self.most_in_flight = 0  # requests being answered at once, and the most seen
        self.lock = threading.Lock()
        api = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with api.lock:
                    api.received.append({"authorization": self.headers.get("Authorization"), "body": body})
                    failing = api.fail_first > 0
                    api.fail_first -= failing
                if failing:
                    self.send_json(api.fail_status, {"error": {"message": "busy", "type": "rate_limit"}},
                               {"Retry-After": "0"})
                    return
                with api.lock:
                    api.in_flight += 1
                    api.most_in_flight = max(api.most_in_flight, api.in_flight)
                time.sleep(api.delay_s)
                with api.lock:
                    api.in_flight -= 1
                asked = body["messages"][-1]["content"]
                first_turn = len(body["messages"]) == 1 and asked.startswith("Answer the question")
                content = api.answer if first_turn else f"Written on request: {asked[:50]}"
                message = {"role": "assistant", "content": content,
                           "reasoning_content": f"Reasoning about: {asked[:40]}. The answer is {api.answer}."}
                self.send_json(200, {
                    "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17},
                })


        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
