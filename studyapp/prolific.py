"""A small client of Prolific's REST API (v1, https://docs.prolific.com/api-reference): one submission, a
study's submissions page by page, and the calls the admin makes. The token is read from the environment
(PROLIFIC_API_TOKEN) when a client is made and goes nowhere else: never into the database, a page or a
log, and never to another host than the API's own, over HTTPS (a local stand-in on loopback excepted).

Prolific answers a list with ``results``, ``_links.next.href`` (the next page's URL, or null) and
``meta.count``; errors with a status and ``{"error": {"title", "detail"}}``; too many requests with
429 and Retry-After. Standard library only: a handful of calls do not need an HTTP package.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

API_URL = "https://api.prolific.com"
#: Submission statuses after which the participant is gone: their place in the study is free again.
GONE = {"RETURNED": "returned", "TIMED-OUT": "timed_out", "REJECTED": "returned"}
PAGE_SIZE = 200
MAX_RETRY_AFTER_S = 30.0
#: Hosts a local stand-in of Prolific may listen on over plain HTTP (the tests' server).
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ProlificError(Exception):
    """Prolific could not be asked (no token, unreachable, an unsafe address) or refused; the message says
    which. ``status`` is the HTTP status Prolific answered, if it answered, and ``retry_after`` the
    seconds it asked to wait before the next call (with a 429)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


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


def api_origin(url: str) -> tuple[str, str]:
    """(scheme, host:port) of an address the token may be sent to: HTTPS, or plain HTTP to a loopback
    host (a local stand-in); ProlificError for anything else."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return parts.scheme, parts.netloc.lower()
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return parts.scheme, parts.netloc.lower()
    raise ProlificError(f"Refusing to send the Prolific token to {parts.scheme}://{parts.netloc}: only to "
                        "Prolific's API over HTTPS (PROLIFIC_API_URL).")


class ProlificClient:
    """Prolific's API with the server's token. ``timeout_s`` bounds each wait on the network and
    ``retries`` how many 429s are waited out (0 in a web request: never wait there)."""

    def __init__(self, base_url: str | None = None, token: str | None = None, retries: int = 3,
                 timeout_s: float = 30.0) -> None:
        self.base_url = (base_url or os.environ.get("PROLIFIC_API_URL") or API_URL).rstrip("/")
        self.origin = api_origin(self.base_url)
        token = token if token is not None else os.environ.get("PROLIFIC_API_TOKEN", "")
        if not token:
            raise ProlificError("No Prolific API token: set PROLIFIC_API_TOKEN where the app runs.")
        self._headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.retries = retries
        self.timeout_s = timeout_s

    def _post(self, path: str, body: dict, retry: bool = True) -> dict | str:
        """POST JSON to an API path; ``retry=False`` for a call that must never be sent twice."""
        data = json.dumps(body).encode()
        return self._request(f"{self.base_url}{path}", data, retries=None if retry else 0)

    def _request(self, url: str, data: bytes | None = None, retries: int | None = None) -> dict:
        """GET (or, with ``data``, POST) and read the JSON answer; 429 waited out ``retries`` times. Only
        to the API's own origin: an address Prolific's answer points to elsewhere is not followed."""
        if api_origin(url) != self.origin:
            raise ProlificError(f"Prolific's answer pointed to {urllib.parse.urlsplit(url).netloc}, not "
                                f"{self.origin[1]}: not followed (the token goes to Prolific's API only).")
        retries = self.retries if retries is None else retries
        headers = {**self._headers, **({"Content-Type": "application/json"} if data is not None else {})}
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - origin checked
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                    body = response.read()
                return json.loads(body) if body.strip() else {}
            except urllib.error.HTTPError as error:
                wait = _retry_after(error)
                if error.code == 429 and attempt < retries:
                    time.sleep(min(wait if wait is not None else 2 ** attempt, MAX_RETRY_AFTER_S))
                    attempt += 1
                    continue
                raise ProlificError(f"Prolific answered {error.code} to {urllib.parse.urlsplit(url).path}: "
                                    f"{_error_text(error)}", error.code, wait) from None
            except (urllib.error.URLError, OSError, ValueError) as error:
                raise ProlificError(f"Prolific could not be reached ({error}).") from None

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

    def submissions(self, study_id: str) -> list[Submission]:
        """Every submission of a study, following Prolific's pages. ProlificError when the list comes back
        shorter than the count Prolific gives for it: acting on part of a list would take the missing
        participants for made-up arrivals."""
        quoted = urllib.parse.quote(study_id, safe="")
        url: str | None = f"{self.base_url}/api/v1/studies/{quoted}/submissions/?limit={PAGE_SIZE}&offset=0"
        found: list[Submission] = []
        count = None
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            page = self._request(url)
            found += [Submission.from_json(item) for item in page.get("results", [])]
            count = (page.get("meta") or {}).get("count", count)
            url = ((page.get("_links") or {}).get("next") or {}).get("href") or None
        if isinstance(count, int) and len({s.id for s in found}) < count:
            raise ProlificError(f"Prolific's list of the study's submissions was incomplete ({len(found)} of "
                                f"{count}); nothing was changed.")
        return found


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    try:
        return max(0.0, float(error.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return error.reason or ""
    detail = (body.get("error") or {}).get("detail") or body.get("detail") or error.reason
    return str(detail)
