"""A local server that answers as Prolific's API v1 does (https://docs.prolific.com/api-reference)
for what the platform asks: one submission by its id, and a study's submissions listed in pages
(``limit``/``offset``, ``results``, ``_links.next.href``, ``meta.count``); with token authentication
(``Authorization: Token ...``; 401 otherwise), 404 for an unknown study or submission, and 429 with
Retry-After when told to. Prolific itself cannot be reached from here.

It can also misbehave as a real service does on a bad day: answer slowly (``delay_s``), not at all
until closed (``hang``), say 429 with a long Retry-After (``busy_first``, ``retry_after``), point its
next-page links at another host (``next_host``), or list fewer submissions than its count says
(``short_list``) or give no count (``omit_meta``)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import ThreadingHTTPServer

from tests.web_servers import JSONHandler


class FakeProlific:
    def __init__(self, token: str, page_size: int = 2, busy_first: int = 0) -> None:
        self.token, self.page_size, self.busy_first = token, page_size, busy_first
        self.retry_after = "0"
        self.delay_s = 0.0
        self.hang = False
        self.next_host: str | None = None
        self.short_list = False
        self.omit_meta = False
        self._closed = threading.Event()
        self.studies: dict[str, list[dict]] = {}
        self.requests: list[str] = []
        self.posted: list[tuple[str, dict]] = []  # (path, body) of every POST
        self.bonus_setups: dict[str, dict] = {}
        self.paid: list[str] = []  # bulk bonus ids paid, once per call
        self.fail_pay = False
        api = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:
                api.requests.append(self.path)
                if api.hang:
                    api._closed.wait()
                    return None
                if api.delay_s:
                    api._closed.wait(api.delay_s)
                if api.busy_first > 0:
                    api.busy_first -= 1
                    busy = _error(429, "Too Many Requests", "Slow down.")
                    return self.send_json(429, busy, {"Retry-After": api.retry_after})
                if self.headers.get("Authorization") != f"Token {api.token}":
                    return self.send_json(401, _error(401, "Unauthorized", "Invalid token."))
                url = urllib.parse.urlsplit(self.path)
                parts = [p for p in url.path.split("/") if p]
                if len(parts) == 4 and parts[:3] == ["api", "v1", "submissions"]:
                    return self._one(urllib.parse.unquote(parts[3]))
                if len(parts) != 5 or parts[:3] != ["api", "v1", "studies"] or parts[4] != "submissions":
                    return self.send_json(404, _error(404, "Not Found", "No such endpoint."))
                study = urllib.parse.unquote(parts[3])
                if study not in api.studies:
                    return self.send_json(404, _error(404, "Not Found", "Study not found."))
                query = urllib.parse.parse_qs(url.query)
                limit = int(query.get("limit", [api.page_size])[0])
                limit = min(limit, api.page_size)  # the server's page size wins, as a client must allow
                offset = int(query.get("offset", ["0"])[0])
                items = api.studies[study]
                nxt = None
                if offset + limit < len(items) and not api.short_list:
                    host = api.next_host or f"http://{self.headers['Host']}"
                    nxt = f"{host}{url.path}?limit={limit}&offset={offset + limit}"
                page = {
                    "results": items[offset:offset + limit],
                    "_links": {"self": {"href": self.path, "title": "Current"},
                               "next": {"href": nxt, "title": "Next"},
                               "previous": {"href": None, "title": "Previous"}, "last": {"href": None}},
                    "meta": {"count": len(items)},
                }
                if api.omit_meta:
                    del page["meta"]
                self.send_json(200, page)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                api.posted.append((self.path, body))
                if self.headers.get("Authorization") != f"Token {api.token}":
                    return self.send_json(401, _error(401, "Unauthorized", "Invalid token."))
                parts = [p for p in urllib.parse.urlsplit(self.path).path.split("/") if p]
                if parts == ["api", "v1", "submissions", "bulk-approve"]:
                    for item in api.studies.get(body.get("study_id"), []):
                        if item["participant_id"] in body.get("participant_ids", []):
                            item["status"] = "APPROVED"
                    return self.send_json(200, {})
                if len(parts) == 5 and parts[:3] == ["api", "v1", "submissions"] and parts[4] == "transition":
                    return self._transition(parts[3], body)
                if parts == ["api", "v1", "submissions", "bonus-payments"]:
                    return self._bonuses(body)
                paying = len(parts) == 5 and parts[:3] == ["api", "v1", "bulk-bonus-payments"]
                if paying and parts[4] == "pay":
                    if api.fail_pay:
                        return self.send_json(500, _error(500, "Server Error", "Try again later."))
                    if parts[3] not in api.bonus_setups:
                        return self.send_json(404, _error(404, "Not Found", "No such bonus."))
                    api.paid.append(parts[3])
                    return self.send_json(202, f"Bulk bonus payment with ID {parts[3]} is being processed.")
                return self.send_json(404, _error(404, "Not Found", "No such endpoint."))

            def _transition(self, session: str, body: dict) -> None:
                every = (i for items in api.studies.values() for i in items)
                item = next((i for i in every if i["id"] == session), None)
                if item is None:
                    return self.send_json(404, _error(404, "Not Found", "Submission not found."))
                if body.get("action") == "REJECT":
                    if len(body.get("message", "")) < 100 or body.get("rejection_category") not in CATEGORIES:
                        why = "A rejection needs a message of 100 characters and a valid category."
                        return self.send_json(400, _error(400, "Bad Request", why))
                    item["status"] = "REJECTED"
                elif body.get("action") == "APPROVE":
                    item["status"] = "APPROVED"
                else:
                    return self.send_json(400, _error(400, "Bad Request", "Unknown action."))
                answer = {"id": session, "status": item["status"], "participant": item["participant_id"]}
                return self.send_json(200, answer)

            def _bonuses(self, body: dict) -> None:
                study = body.get("study_id")
                known = {i["participant_id"] for i in api.studies.get(study, [])}
                lines = [line.split(",") for line in body.get("csv_bonuses", "").strip().split("\n") if line]
                unknown = [pid for pid, _ in lines if pid not in known]
                if unknown:
                    why = f"Not in the study: {', '.join(unknown)}."
                    return self.send_json(400, _error(400, "Bad Request", why))
                amount = round(sum(float(a) for _, a in lines) * 100)  # pence, as Prolific answers
                bulk = f"bulk{len(api.bonus_setups) + 1}"
                setup = {"id": bulk, "study": study, "amount": amount, "fees": round(amount / 3, 2),
                         "total_amount": round(amount * 4 / 3, 2), "vat": 0}
                api.bonus_setups[bulk] = setup
                return self.send_json(201, setup)

            def _one(self, session: str) -> None:
                for study, items in api.studies.items():
                    for item in items:
                        if item["id"] == session:
                            return self.send_json(200, {
                                "id": session, "study_id": study, "participant": item["participant_id"],
                                "status": item["status"], "started_at": item["started_at"],
                                "completed_at": None, "entered_code": None, "bonus_payments": [],
                            })
                return self.send_json(404, _error(404, "Not Found", "Submission not found."))


        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, study: str, session: str, participant: str, status: str = "ACTIVE") -> None:
        self.studies.setdefault(study, []).append({
            "id": session, "participant_id": participant, "status": status,
            "started_at": "2026-11-29T10:00:00Z", "completed_at": None, "has_siblings": False,
            "study_code": None, "return_requested": None,
        })

    def set_status(self, study: str, session: str, status: str) -> None:
        next(s for s in self.studies[study] if s["id"] == session)["status"] = status

    def close(self) -> None:
        self._closed.set()  # hanging requests end
        self.server.shutdown()
        self.server.server_close()


#: Prolific's rejection categories.
CATEGORIES = {"TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
              "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER"}


def _error(status: int, title: str, detail: str) -> dict:
    return {"error": {"status": status, "title": title, "detail": detail, "error_code": status * 100}}
