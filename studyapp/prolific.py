"""A small client of Prolific's REST API (v1, https://docs.prolific.com/api-reference): a study's
submissions, page by page. The token is read from the environment (PROLIFIC_API_TOKEN) when a client
is made and goes nowhere else: never into the database, a page or a log.

Prolific answers a list with ``results``, ``_links.next.href`` (the next page's URL, or null) and
``meta.count``; errors with a status and ``{"error": {"title", "detail"}}``; too many requests with
429 and Retry-After. Standard library only: four calls do not need an HTTP package.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

API_URL = "https://api.prolific.com"
#: Submission statuses after which the participant is gone: their place in the study is free again.
GONE = {"RETURNED": "returned", "TIMED-OUT": "timed_out", "REJECTED": "returned"}
PAGE_SIZE = 200
MAX_RETRY_AFTER_S = 30.0


class ProlificError(Exception):
    """Prolific could not be asked (no token, unreachable) or refused; the message says which, and
    ``status`` is the HTTP status Prolific answered, if it answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Submission:
    id: str  # what Prolific passes as SESSION_ID
    participant_id: str  # PROLIFIC_PID
    status: str  # ACTIVE, AWAITING REVIEW, APPROVED, RETURNED, TIMED-OUT, REJECTED, SCREENED OUT, RESERVED
    study_id: str = ""  # given by the single-submission endpoint

    @classmethod
    def from_json(cls, data: dict) -> Submission:
        return cls(str(data["id"]), str(data.get("participant_id") or data.get("participant") or ""),
                   str(data.get("status", "")), str(data.get("study_id") or ""))


class ProlificClient:
    def __init__(self, base_url: str | None = None, token: str | None = None, retries: int = 3) -> None:
        self.base_url = (base_url or os.environ.get("PROLIFIC_API_URL") or API_URL).rstrip("/")
        token = token if token is not None else os.environ.get("PROLIFIC_API_TOKEN", "")
        if not token:
            raise ProlificError("No Prolific API token: set PROLIFIC_API_TOKEN where the app runs.")
        self._headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.retries = retries

    def _post(self, path: str, body: dict, retry: bool = True) -> dict | str:
        """POST JSON to an API path; ``retry=False`` for a call that must never be sent twice."""
        data = json.dumps(body).encode()
        return self._request(f"{self.base_url}{path}", data, retries=None if retry else 0)

    def _request(self, url: str, data: bytes | None = None, retries: int | None = None) -> dict:
        """GET (or, with ``data``, POST) and read the JSON answer; 429 waited out ``retries`` times."""
        retries = self.retries if retries is None else retries
        headers = {**self._headers, **({"Content-Type": "application/json"} if data is not None else {})}
        for attempt in range(retries + 1):
            request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - https, or tests' http
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    body = response.read()
                return json.loads(body) if body.strip() else {}
            except urllib.error.HTTPError as error:
                if error.code == 429 and attempt < retries:
                    wait = float(error.headers.get("Retry-After") or 2 ** attempt)
                    time.sleep(min(wait, MAX_RETRY_AFTER_S))
                    continue
                raise ProlificError(f"Prolific answered {error.code} to {urllib.parse.urlsplit(url).path}: "
                                    f"{_error_text(error)}", error.code) from None
            except (urllib.error.URLError, OSError, ValueError) as error:
                raise ProlificError(f"Prolific could not be reached ({error}).") from None
        raise ProlificError("Prolific kept answering 429 (too many requests); try again later.")

    def submission(self, session_id: str) -> Submission | None:
        """One submission by its id (SESSION_ID), or None when Prolific has none."""
        url = f"{self.base_url}/api/v1/submissions/{urllib.parse.quote(session_id, safe='')}/"
        try:
            return Submission.from_json(self._request(url))
        except ProlificError as error:
            if error.status == 404:
                return None
            raise

    def approve(self, study_id: str, participant_ids: list[str]) -> dict | str:
        """Approve the submissions of these participants (bulk; approving twice changes nothing)."""
        return self._post("/api/v1/submissions/bulk-approve/",
                          {"study_id": study_id, "participant_ids": participant_ids})

    def reject(self, session_id: str, message: str, category: str) -> dict | str:
        """Reject one submission, with the message the participant reads and Prolific's category."""
        path = f"/api/v1/submissions/{urllib.parse.quote(session_id, safe='')}/transition/"
        return self._post(path, {"action": "REJECT", "message": message, "rejection_category": category})

    def set_up_bonuses(self, study_id: str, bonuses: dict[str, str]) -> dict | str:
        """Set up bonuses (participant id -> amount in the study's currency, e.g. "1.50"); nothing is paid:
        Prolific answers with the amount, its fees and the total."""
        csv = "".join(f"{pid},{amount}\n" for pid, amount in bonuses.items())
        return self._post("/api/v1/submissions/bonus-payments/", {"study_id": study_id, "csv_bonuses": csv})

    def pay_bonuses(self, bulk_id: str) -> dict | str:
        """Pay bonuses set up before. Not idempotent at Prolific: never retried here."""
        path = f"/api/v1/bulk-bonus-payments/{urllib.parse.quote(bulk_id, safe='')}/pay/"
        return self._post(path, {}, retry=False)

    def submissions(self, study_id: str) -> Iterator[Submission]:
        """Every submission of a study, following Prolific's pages."""
        quoted = urllib.parse.quote(study_id, safe="")
        url: str | None = f"{self.base_url}/api/v1/studies/{quoted}/submissions/?limit={PAGE_SIZE}&offset=0"
        while url:
            page = self._request(url)
            for item in page.get("results", []):
                yield Submission.from_json(item)
            url = ((page.get("_links") or {}).get("next") or {}).get("href") or None


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return error.reason or ""
    detail = (body.get("error") or {}).get("detail") or body.get("detail") or error.reason
    return str(detail)
