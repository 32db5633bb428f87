"""One sandbox org: its store, metadata services, tokens, budget and bootstrap records.

A fresh org holds its Opportunity stages, the integration user (the API user every token
belongs to), the ``ServeFirst_Integration`` permission set assigned to that user, and nothing
else: no custom field exists until provisioning (or the seeder) creates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from servefirst.connectors.salesforce.sandbox.auth import ApiBudget, TokenRegistry
from servefirst.connectors.salesforce.sandbox.custom_fields import sync_custom_fields
from servefirst.connectors.salesforce.sandbox.objects import data_objects
from servefirst.connectors.salesforce.sandbox.query import QueryService
from servefirst.connectors.salesforce.sandbox.schema import PicklistValue
from servefirst.connectors.salesforce.sandbox.security import FieldSecurity, ValidationRules
from servefirst.connectors.salesforce.sandbox.soql.compiled import Catalog
from servefirst.connectors.salesforce.sandbox.stages import forecast_type, stage_set
from servefirst.connectors.salesforce.sandbox.store import Record, Store
from servefirst.connectors.salesforce.sandbox.tooling import Tooling
from servefirst.connectors.salesforce.sandbox.tooling_schema import tooling_objects
from servefirst.connectors.salesforce.sandbox.writes import Writer

INTEGRATION_USERNAME = "integration@servefirst.sandbox"
PERMISSION_SET = "ServeFirst_Integration"
JWT_CLIENT_ID = "servefirst-sandbox"
ORG_ID = "00DHs0000000001"
#: Seconds a Bulk API 2.0 job takes from UploadComplete to JobComplete: a small job on a real
#: org takes a few, so a client that reads results without polling fails here as it would there.
DEFAULT_BULK_JOB_SECONDS = 2.0


@dataclass(frozen=True)
class OrgOptions:
    stages: str = "servefirst"
    daily_limit: int | None = None
    token_ttl_seconds: int = 7200


class Org:
    """Everything one sandbox serves; route handlers reach the org only through this."""

    def __init__(self, options: OrgOptions) -> None:
        self.options = options
        stages = stage_set(options.stages)
        values = tuple(
            PicklistValue(s.label, s.label, default=i == 0) for i, s in enumerate(stages)
        )
        self.store = Store(data_objects(values), tooling_objects())
        self.store.listen("CustomField", lambda: sync_custom_fields(self.store))
        self.security = FieldSecurity(self.store)
        self.rules = ValidationRules(self.store)
        self.writer = Writer(self.store, self.security, self.rules)
        self.tooling = Tooling(self.store)
        self.queries = QueryService()
        self.tokens = TokenRegistry(ORG_ID, options.token_ttl_seconds)
        self.budget = ApiBudget(options.daily_limit)
        self.instance_url = ""
        self.user_id = ""
        self.permission_set_id = ""
        self.client_secret = ""
        self.jwt_certificate_pem = b""
        self.bulk_job_seconds = DEFAULT_BULK_JOB_SECONDS
        #: Bulk API 2.0 usage today, for ``limits`` (DailyBulkApiBatches, DailyBulkV2QueryJobs)
        self.bulk_batches_used = 0
        self.bulk_query_jobs_used = 0

    def bootstrap(self) -> None:
        """Create the stages, integration user and permission set of a fresh org."""
        with self.store.lock:
            for order, stage in enumerate(stage_set(self.options.stages), start=1):
                self._system_insert(
                    "OpportunityStage",
                    {
                        "MasterLabel": stage.label,
                        "ApiName": stage.label,
                        "IsActive": True,
                        "SortOrder": order,
                        "IsClosed": stage.closed,
                        "IsWon": stage.won,
                        "ForecastCategoryName": stage.forecast,
                        "ForecastCategory": forecast_type(stage.forecast),
                        "DefaultProbability": stage.probability,
                        "Description": None,
                    },
                )
            self.user_id = self._system_insert(
                "User",
                {
                    "Username": INTEGRATION_USERNAME,
                    "FirstName": "ServeFirst",
                    "LastName": "Integration",
                    "Name": "ServeFirst Integration",
                    "Email": INTEGRATION_USERNAME,
                    "Alias": "sfint",
                    "Title": "Integration User",
                    "IsActive": True,
                },
            )
            self.permission_set_id = self._system_insert(
                "PermissionSet",
                {
                    "Name": PERMISSION_SET,
                    "Label": "ServeFirst Integration",
                    "Description": "Field access for the servefirst sync",
                    "IsOwnedByProfile": False,
                },
            )
            self._system_insert(
                "PermissionSetAssignment",
                {"AssigneeId": self.user_id, "PermissionSetId": self.permission_set_id},
            )
        self.security.user_id = self.user_id
        self.security.recompute()

    def adopt_loaded(self) -> None:
        """After loading from disk: find the bootstrap records instead of creating them."""
        users = self.store.tables["User"].values()
        self.user_id = next(u["Id"] for u in users if u["Username"] == INTEGRATION_USERNAME)
        sets = self.store.tables["PermissionSet"].values()
        self.permission_set_id = next(p["Id"] for p in sets if p["Name"] == PERMISSION_SET)
        self.security.user_id = self.user_id
        self.security.recompute()

    def _system_insert(self, object_name: str, values: Record) -> str:
        """Insert without API validation: records Salesforce itself owns."""
        now = self.store.clock.now()
        record_id = self.store.new_id(object_name)
        record: Record = {
            "Id": record_id,
            "IsDeleted": False,
            "CreatedDate": now,
            "CreatedById": self.user_id or record_id,
            "LastModifiedDate": now,
            "LastModifiedById": self.user_id or record_id,
            "SystemModstamp": now,
            **values,
        }
        self.store.put(object_name, record)
        return record_id

    def catalog(self, *, tooling: bool = False, include_deleted: bool = False) -> Catalog:
        if tooling:
            return Catalog(
                self.store.tooling,
                self.store,
                lambda _obj, _field: True,
                self.store.clock.today(),
                include_deleted,
                "tooling/",
            )
        return Catalog(
            self.store.data,
            self.store,
            self.security.readable,
            self.store.clock.today(),
            include_deleted,
        )
