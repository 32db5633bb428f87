"""Bulk API 2.0 endpoints under ``jobs/ingest`` and ``jobs/query`` (see ``bulk.py``)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.bulk import (
    DELIMITERS,
    INGEST_OPERATIONS,
    JOBS_PAGE,
    LINE_ENDINGS,
    NULL_MARKER,
    RECORDS_PER_BATCH,
    IngestJob,
    Job,
    QueryJob,
    csv_text,
    decode_locator,
    encode_locator,
    error_text,
    flatten,
)
from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request, not_found
from servefirst.connectors.salesforce.sandbox.http import (
    AfterWrite,
    Call,
    CsvBody,
    api_route,
    require_object,
)
from servefirst.connectors.salesforce.sandbox.ids import to18
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.soql.compiler import Compiler
from servefirst.connectors.salesforce.sandbox.soql.parser import parse

_RESULT_COLUMNS = {
    "successfulResults": ["sf__Id", "sf__Created"],
    "failedResults": ["sf__Id", "sf__Error"],
    "unprocessedrecords": [],
}


class BulkApi:
    """The org's Bulk 2.0 jobs and their handlers."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}

    def _job(self, call: Call, kind: type[Job]) -> Any:
        job = self.jobs.get(call.params["job_id"])
        if not isinstance(job, kind):
            raise not_found(f"Job {call.params['job_id']} does not exist")
        return job

    def _options(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        line_ending = str(body.get("lineEnding") or "LF")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise bad_request("INVALIDJOB", "Unknown columnDelimiter or lineEnding")
        return {
            "id": self.org.store.ids.new("750"),
            "created_by": call.user_id,
            "created": self.org.store.clock.now(),
            "api_version": call.version,
            "delimiter": delimiter,
            "line_ending": line_ending,
        }

    def create_ingest(self, call: Call) -> tuple[int, Any]:
        body = require_object(call.body)
        operation = str(body.get("operation") or "")
        obj = self.org.store.data.get(str(body.get("object") or ""))
        if operation not in INGEST_OPERATIONS:
            raise bad_request("INVALIDJOB", f"Unknown operation {operation!r}")
        if obj is None:
            raise bad_request("INVALIDJOB", f"Unknown object {body.get('object')!r}")
        external = body.get("externalIdFieldName")
        if operation == "upsert" and not external:
            raise bad_request("INVALIDJOB", "An upsert job needs externalIdFieldName")
        job = IngestJob(
            operation=operation,
            object_name=obj.name,
            external_id=str(external) if external else None,
            **self._options(call, body),
        )
        self.jobs[job.id] = job
        return 200, job.info()

    def upload(self, call: Call) -> tuple[int, Any]:
        job: IngestJob = self._job(call, IngestJob)
        if job.state != "Open":
            raise SfError(409, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}, not Open")
        job.uploads.append(call.raw.decode("utf-8"))
        return 201, None

    def ingest(self, call: Call) -> tuple[int, Any]:
        job: IngestJob = self._job(call, IngestJob)
        if call.request.method == "GET":
            return 200, job.info()
        if call.request.method == "DELETE":
            del self.jobs[job.id]
            return 204, None
        wanted = str(require_object(call.body).get("state"))
        state = job.status()
        if wanted == "Aborted" and state in ("Open", "UploadComplete", "InProgress"):
            job.state = "Aborted"
        elif wanted == "UploadComplete" and state == "Open":
            job.close(self.org.bulk_job_seconds)
            info = {**job.info(), "state": "UploadComplete"}
            self._process(job)
            return 200, info
        else:
            raise SfError(409, "INVALIDJOBSTATE", f"Cannot move job {job.id} from {state}")
        return 200, job.info()

    def _process(self, job: IngestJob) -> None:
        rows = job.rows()
        for row in rows:
            values = {
                name: (None if value == NULL_MARKER else value)
                for name, value in zip(job.header, row, strict=False)
                if value != ""
            }
            try:
                record_id, created = self._apply(job, values)
                job.successful.append([record_id, "true" if created else "false", *row])
            except SfError as exc:
                failed_id = str(values.get("Id") or values.get("id") or "")
                job.failed.append([failed_id, error_text(exc), *row])
        self.org.bulk_batches_used += max(1, -(-len(rows) // RECORDS_PER_BATCH))
        job.modified = self.org.store.clock.now()

    def _apply(self, job: IngestJob, values: dict[str, Any]) -> tuple[str, bool]:
        obj = self.org.store.data.objects[job.object_name]
        writer, user = self.org.writer, job.created_by
        if job.operation == "insert":
            return writer.create(obj, values, user), True
        if job.operation == "upsert":
            assert job.external_id is not None  # noqa: S101 - checked at creation
            key = values.pop(job.external_id, None)
            if key is None:
                raise bad_request("MISSING_ARGUMENT", f"{job.external_id} not specified")
            return writer.upsert(obj, job.external_id, str(key), values, user)
        record_id = str(values.pop("Id", None) or values.pop("id", None) or "")
        if not record_id:
            raise bad_request("MISSING_ARGUMENT", "Id not specified")
        if job.operation == "update":
            writer.update(obj, record_id, values, user)
        else:
            writer.delete(obj, record_id, user)
        return to18(record_id) or record_id, False

    def results(self, call: Call) -> tuple[int, Any]:
        job: IngestJob = self._job(call, IngestJob)
        kind = call.params["kind"]
        if kind not in _RESULT_COLUMNS:
            raise not_found()
        rows = {"successfulResults": job.successful, "failedResults": job.failed}.get(kind)
        if rows is None:
            rows = job.rows() if job.state in ("Open", "Aborted") else []
        elif not job.complete:
            rows = []
        return 200, CsvBody(csv_text(_RESULT_COLUMNS[kind] + job.header, rows, job), {})

    def create_query(self, call: Call) -> tuple[int, Any]:
        body = require_object(call.body)
        operation = str(body.get("operation") or "query")
        if operation not in ("query", "queryAll"):
            raise bad_request("INVALIDJOB", f"Unknown operation {operation!r}")
        text = str(body.get("query") or "")
        catalog = self.org.catalog(include_deleted=operation == "queryAll")
        parsed = parse(text)
        if parsed.aggregate:
            raise bad_request(
                "INVALIDJOB", "Bulk API 2.0 query jobs do not support aggregate functions"
            )
        compiled = Compiler(text, catalog).compile(parsed)
        header, row = flatten(compiled)
        records = compiled.rows(self.org.store.tables[compiled.obj.name].values())
        job = QueryJob(
            operation=operation,
            object_name=compiled.obj.name,
            query=text,
            header=header,
            records=[row(r) for r in records],
            **self._options(call, body),
        )
        job.close(self.org.bulk_job_seconds)
        self.org.bulk_query_jobs_used += 1
        self.jobs[job.id] = job
        return 200, {**job.info(), "state": "UploadComplete"}

    def query(self, call: Call) -> tuple[int, Any]:
        job: QueryJob = self._job(call, QueryJob)
        if call.request.method == "DELETE":
            del self.jobs[job.id]
            return 204, None
        if call.request.method == "PATCH":
            job.state = "Aborted"
        return 200, job.info()

    def query_results(self, call: Call) -> tuple[int, Any]:
        job: QueryJob = self._job(call, QueryJob)
        if not job.complete:
            raise bad_request(
                "INVALIDJOBSTATE", f"Job {job.id} is {job.status()}: results come once JobComplete"
            )
        start = decode_locator(call.query["locator"]) if call.query.get("locator") else 0
        size = int(call.query.get("maxRecords") or len(job.records) or 1)
        page = job.records[start : start + size]
        end = start + len(page)
        locator = encode_locator(end) if end < len(job.records) else "null"
        headers = {"Sforce-NumberOfRecords": str(len(page)), "Sforce-Locator": locator}
        return 200, CsvBody(csv_text(job.header, page, job), headers)

    def all_ingest_jobs(self, call: Call) -> tuple[int, Any]:
        return self._all_jobs(call, IngestJob, "ingest")

    def all_query_jobs(self, call: Call) -> tuple[int, Any]:
        return self._all_jobs(call, QueryJob, "query")

    def _all_jobs(self, call: Call, kind: type[Job], path: str) -> tuple[int, Any]:
        """Get All Jobs: ingest or query jobs, oldest first, a page of 1000 at a time."""
        wanted = call.query.get("jobType")
        chunking = call.query.get("isPkChunkingEnabled", "").lower() == "true"
        mode = call.query.get("concurrencyMode", "").lower()
        jobs = [
            job.info()
            for job in self.jobs.values()
            if isinstance(job, kind)
            and wanted in (None, "", job.job_type)
            and not chunking
            and mode in ("", "parallel")
        ]
        locator = call.query.get("queryLocator")
        start = decode_locator(locator) if locator else 0
        end = start + JOBS_PAGE
        done = end >= len(jobs)
        next_url = (
            None
            if done
            else f"/services/data/v{call.version}/jobs/{path}?queryLocator={encode_locator(end)}"
        )
        return 200, {"done": done, "records": jobs[start:end], "nextRecordsUrl": next_url}


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    api = BulkApi(org)
    table: list[tuple[str, list[str], Any]] = [
        ("/jobs/ingest", ["GET"], api.all_ingest_jobs),
        ("/jobs/query", ["GET"], api.all_query_jobs),
        ("/jobs/ingest", ["POST"], api.create_ingest),
        ("/jobs/ingest/{job_id}", ["GET", "PATCH", "DELETE"], api.ingest),
        ("/jobs/ingest/{job_id}/batches", ["PUT"], api.upload),
        ("/jobs/ingest/{job_id}/{kind}", ["GET"], api.results),
        ("/jobs/query", ["POST"], api.create_query),
        ("/jobs/query/{job_id}", ["GET", "PATCH", "DELETE"], api.query),
        ("/jobs/query/{job_id}/results", ["GET"], api.query_results),
    ]
    return [
        r for path, methods, fn in table for r in api_route(org, path, methods, fn, after_write)
    ]
