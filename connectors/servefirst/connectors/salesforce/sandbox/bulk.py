"""Bulk API 2.0 jobs: CSV ingest (insert, update, upsert, delete) and query jobs.

Ingest rows go through the same validating writer as the REST API, one by one (Bulk 2.0 has
no allOrNone): each lands in successfulResults (``sf__Id``, ``sf__Created``) or failedResults
(``sf__Id``, ``sf__Error`` = ``CODE:message:fields --``). In CSV, an empty cell leaves a field
alone and ``#N/A`` sets it to null. Query jobs run their SOQL when created (child subqueries
are refused, as in Bulk 2.0) and serve CSV pages with ``Sforce-Locator``.

Jobs take real time, as on a real org: once closed (UploadComplete) a job reports
UploadComplete for the first third of the org's ``bulk_job_seconds``, then InProgress, then
JobComplete, so a client that polls works and one that reads results at once fails here as it
would there. An ingest job's rows are written when it is closed; its counts and results are
reported once it is JobComplete.
"""

from __future__ import annotations

import base64
import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request
from servefirst.connectors.salesforce.sandbox.soql.compiled import CompiledQuery, RowNode
from servefirst.connectors.salesforce.sandbox.store import Record
from servefirst.connectors.salesforce.sandbox.values import format_datetime

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
#: Bulk 2.0 counts one batch against DailyBulkApiBatches per 10,000 ingested records.
RECORDS_PER_BATCH = 10_000
#: Get All Jobs answers up to this many jobs per page.
JOBS_PAGE = 1000
NULL_MARKER = "#N/A"


@dataclass
class Job:
    """What every Bulk 2.0 job reports about itself."""

    id: str
    operation: str
    object_name: str
    created_by: str
    created: datetime
    api_version: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    modified: datetime | None = None
    #: monotonic time the upload completed, and how long processing takes from then
    closed_at: float | None = None
    duration: float = 0.0

    job_type: ClassVar[str] = "V2Ingest"

    def close(self, seconds: float) -> None:
        """Upload complete: processing starts now and takes ``seconds``."""
        self.state = "UploadComplete"
        self.closed_at = time.monotonic()
        self.duration = seconds

    def status(self) -> str:
        """The state now: a closed job moves on to InProgress, then JobComplete, over time."""
        if self.state != "UploadComplete" or self.closed_at is None:
            return self.state
        elapsed = time.monotonic() - self.closed_at
        if elapsed >= self.duration:
            return "JobComplete"
        return "InProgress" if elapsed >= self.duration / 3 else "UploadComplete"

    @property
    def complete(self) -> bool:
        return self.status() == "JobComplete"

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object_name,
            "createdById": self.created_by,
            "createdDate": format_datetime(self.created),
            "systemModstamp": format_datetime(self.modified or self.created),
            "state": self.status(),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": self.job_type,
            "columnDelimiter": self.delimiter,
            "lineEnding": self.line_ending,
        }


@dataclass
class IngestJob(Job):
    external_id: str | None = None
    uploads: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        base = super().info()
        if self.external_id:
            base["externalIdFieldName"] = self.external_id
        base["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        done = self.complete
        base["numberRecordsProcessed"] = len(self.successful) + len(self.failed) if done else 0
        base["numberRecordsFailed"] = len(self.failed) if done else 0
        base["retries"] = 0
        base["totalProcessingTime"] = 0
        return base

    def rows(self) -> list[list[str]]:
        """All uploaded rows; the first upload's header names the columns."""
        rows: list[list[str]] = []
        for index, chunk in enumerate(self.uploads):
            reader = csv.reader(io.StringIO(chunk), delimiter=DELIMITERS[self.delimiter])
            parsed = [row for row in reader if row]
            if not parsed:
                continue
            if index == 0:
                self.header = parsed[0]
            elif parsed[0] != self.header:
                raise bad_request("INVALIDJOB", "Every upload must repeat the same CSV header")
            rows.extend(parsed[1:])
        return rows


@dataclass
class QueryJob(Job):
    query: str = ""
    header: list[str] = field(default_factory=list)
    records: list[list[str]] = field(default_factory=list)

    job_type: ClassVar[str] = "V2Query"

    def info(self) -> dict[str, Any]:
        base = super().info()
        base["query"] = self.query
        base["numberRecordsProcessed"] = len(self.records) if self.complete else 0
        base["retries"] = 0
        base["totalProcessingTime"] = 0
        return base


def csv_text(header: list[str], rows: list[list[str]], job: Job) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[job.delimiter],
        lineterminator=LINE_ENDINGS[job.line_ending],
    )
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def error_text(exc: SfError) -> str:
    """``sf__Error``: code, message and fields, as failedResults show them."""
    return f"{exc.code}:{exc.message}:{','.join(exc.fields or [])} --"


def cell(value: Any) -> str:
    """A stored value as a Bulk CSV cell (nulls are empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def flatten(compiled: CompiledQuery) -> tuple[list[str], Callable[[Record], list[str]]]:
    """CSV header and a row function for a query: lookups become dotted columns."""
    if any(node.children is not None for node in compiled.nodes):
        raise bad_request(
            "INVALIDJOB", "Bulk API 2.0 query jobs do not support child relationship subqueries"
        )
    header: list[str] = []
    _columns(compiled.nodes, "", header)

    def row(record: Record) -> list[str]:
        out: list[str] = []
        _cells(compiled.nodes, record, out)
        return out

    return header, row


def _columns(nodes: list[RowNode], prefix: str, header: list[str]) -> None:
    for node in nodes:
        if node.lookup is not None:
            _columns(node.nodes, f"{prefix}{node.key}.", header)
        else:
            header.append(prefix + node.key)


def _cells(nodes: list[RowNode], record: Record | None, out: list[str]) -> None:
    for node in nodes:
        if node.lookup is not None:
            found = node.lookup(record) if record is not None else None
            _cells(node.nodes, found[1] if found else None, out)
        elif node.getter is not None:
            out.append("" if record is None else cell(record.get(node.key)))


def encode_locator(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int:
    try:
        padded = locator + "=" * (-len(locator) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise bad_request("INVALIDLOCATOR", f"Invalid locator: {locator}") from None
