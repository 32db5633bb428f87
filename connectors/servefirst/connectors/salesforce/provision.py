"""Provisioning plan and apply: fields, field-level security, validation rule, stages, path.

Everything is read first and compared, so a second run finds nothing to do and a dry run
makes only reads. The order matters in Salesforce: a field must exist before a permission set
can grant it, and a new field stays invisible to describe and SOQL (``INVALID_FIELD``) until a
permission set assigned to the integration user grants it, which is why provisioning also
makes sure that assignment exists. Opportunity stage values live in a standard value set that
only the Metadata API can change, so stages are checked, and anything missing becomes a
``manual`` step telling the admin exactly what to add or how to map it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from servefirst.config.settings import SalesforceConnection
from servefirst.connectors.base import ProvisionReport, ProvisionStep, who_may_waive
from servefirst.connectors.preflight import missing_stage_targets
from servefirst.connectors.salesforce.client import SalesforceClient, restful, tooling
from servefirst.connectors.salesforce.creates import create_metadata, create_record
from servefirst.connectors.salesforce.fields import FieldSpec, differences, field_specs
from servefirst.connectors.salesforce.mapping import SalesforceMapping
from servefirst.connectors.salesforce.path import path_spec, provision_path
from servefirst.connectors.salesforce.retry import describe
from servefirst.connectors.salesforce.stages import (
    STAGES_SOQL,
    active_stage_names,
    stage_steps,
    validation_rule,
)
from servefirst.connectors.salesforce.waiver import grant_step, waiver_steps
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError

Step = ProvisionStep


class Provisioner:
    """Plans and applies the org changes one connection needs."""

    def __init__(
        self, client: SalesforceClient, settings: SalesforceConnection, mapping: SalesforceMapping
    ) -> None:
        self.client = client
        self.settings = settings
        self.mapping = mapping

    def run(self, playbook: Playbook, *, dry_run: bool) -> ProvisionReport:
        """Compare the org with what the playbook needs; change it unless ``dry_run``.

        Raises:
            ConfigError: Salesforce refused a read or a change (its own words attached);
                changes made before it stay, and running again picks up from there.
        """
        try:
            return self._run(playbook, dry_run=dry_run)
        except SalesforceError as exc:
            raise ConfigError(
                "Salesforce refused a provisioning step; what was done before it stays and "
                "running provisioning again resumes. Check the integration user's admin "
                "permissions (Customize Application, Manage Profiles and Permission Sets)",
                connection=self.client.name,
                response=describe(exc),
            ) from None

    def _run(self, playbook: Playbook, *, dry_run: bool) -> ProvisionReport:
        stages = self._query(STAGES_SOQL)
        refusal = missing_stage_targets(
            self.settings.stage_map, active_stage_names(stages), "the org"
        )
        if refusal is not None:
            raise ConfigError(refusal, connection=self.client.name)
        specs = field_specs(self.settings.fields)
        steps = self._fields(specs, dry_run)
        steps += self._permissions(specs, dry_run)
        waiver = next((s for s in specs if s.api_name == self.settings.fields.waiver), None)
        if waiver is not None:
            steps += waiver_steps(
                self.client,
                waiver,
                who_may_waive(playbook),
                integration=self.settings.permission_set,
                dry_run=dry_run,
            )
        if self.settings.validation_rule:
            steps += self._validation_rule(playbook, dry_run)
        steps += stage_steps(self.mapping, stages)
        path = path_spec(self.mapping, playbook, stages)
        steps.append(provision_path(self.client, path, dry_run=dry_run))
        return ProvisionReport(tuple(steps), applied=not dry_run)

    def _query(self, soql: str) -> list[dict[str, Any]]:
        page = self.client.call("query", lambda sf: sf.query(soql))
        return list(page.get("records") or [])

    def _tooling_query(self, soql: str) -> list[dict[str, Any]]:
        page = self.client.call("tooling query", tooling("GET", "query/", params={"q": soql}))
        return list(page.get("records") or [])

    def _fields(self, specs: tuple[FieldSpec, ...], dry_run: bool) -> list[Step]:
        tables = sorted({t for s in specs for t in s.tables})
        names = sorted({s.developer_name for s in specs})
        existing = {
            (str(r["TableEnumOrId"]).lower(), str(r["DeveloperName"]).lower()): str(r["Id"])
            for r in self._tooling_query(
                format_soql(
                    "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField "
                    "WHERE TableEnumOrId IN {} AND DeveloperName IN {}",
                    tables,
                    names,
                )
            )
        }
        steps = []
        for spec in specs:
            found = [
                (table, existing[(table.lower(), spec.developer_name.lower())])
                for table in spec.tables
                if (table.lower(), spec.developer_name.lower()) in existing
            ]
            if found:
                steps.append(self._field(replace(spec, table=found[0][0]), found[0][1], dry_run))
            else:
                steps.append(self._field(spec, None, dry_run))
        return steps

    def _field(self, spec: FieldSpec, field_id: str | None, dry_run: bool) -> Step:
        body = {"FullName": spec.full_name, "Metadata": dict(spec.metadata)}
        label = str(spec.metadata["label"])
        if field_id is None:
            name = self._create_field(spec, body) if not dry_run else spec.full_name
            return Step("field", name, "create", f"{spec.metadata['type']} '{label}'")
        current = self.client.call(
            "tooling read", tooling("GET", f"sobjects/CustomField/{field_id}")
        )
        metadata = (current or {}).get("Metadata") or {}
        diffs = differences(spec, metadata)
        if "type" in diffs:
            return Step(
                "field",
                spec.full_name,
                "manual",
                f"{spec.full_name} exists as {metadata.get('type')} but servefirst needs "
                f"{spec.metadata['type']}: change its type in Setup, or point servefirst at "
                "another field under [connections.<name>.fields] in servefirst.toml",
            )
        if not diffs:
            return Step("field", spec.full_name, "none", "up to date")
        if not dry_run:
            self.client.call(
                "tooling update", tooling("PATCH", f"sobjects/CustomField/{field_id}", body)
            )
        return Step("field", spec.full_name, "update", f"differs in {', '.join(diffs)}")

    def _create_field(self, spec: FieldSpec, body: dict[str, Any]) -> str:
        """Create the field (on a fallback table if the first is refused); its full name."""
        refusals = []
        for table in spec.tables:
            full_name = f"{table}.{spec.api_name}"
            attempt = {**body, "FullName": full_name}
            key = format_soql(
                "SELECT Id FROM CustomField WHERE TableEnumOrId = {} AND DeveloperName = {}",
                table,
                spec.developer_name,
            )
            try:
                create_metadata(self.client, "CustomField", attempt, key)
            except SalesforceMalformedRequest as exc:
                if "already" in describe(exc).lower():
                    return full_name  # a retried create whose first attempt did land
                refusals.append(f"{table}: {describe(exc)}")
                continue
            return full_name
        raise ConfigError(
            f"Salesforce refused to create {spec.full_name}: {'; '.join(refusals)}",
            connection=self.client.name,
        )

    def _permissions(self, specs: tuple[FieldSpec, ...], dry_run: bool) -> list[Step]:
        name = self.settings.permission_set
        steps: list[Step] = []
        rows = self._query(format_soql("SELECT Id FROM PermissionSet WHERE Name = {}", name))
        permission_set = str(rows[0]["Id"]) if rows else None
        if permission_set is None:
            steps.append(Step("permission", name, "create", "permission set for servefirst"))
            if not dry_run:
                permission_set = self._create(
                    "PermissionSet",
                    {
                        "Name": name,
                        "Label": name.replace("_", " "),
                        "Description": "Lets the servefirst integration user read and write "
                        "the serve-first playbook fields.",
                    },
                    format_soql("SELECT Id FROM PermissionSet WHERE Name = {}", name),
                )
        steps.append(self._assignment(permission_set, dry_run))
        current: dict[str, dict[str, Any]] = {}
        if permission_set is not None:
            wanted = [f for spec in specs for f in spec.permission_fields()]
            current = {
                str(r["Field"]).lower(): r
                for r in self._query(
                    format_soql(
                        "SELECT Id, Field, SobjectType, PermissionsRead, PermissionsEdit "
                        "FROM FieldPermissions WHERE ParentId = {} AND Field IN {}",
                        permission_set,
                        wanted,
                    )
                )
            }
        steps.extend(
            self._grant(
                permission_set, field, current.get(field.lower()), dry_run, spec.integration_edit
            )
            for spec in specs
            for field in spec.permission_fields()
        )
        return steps

    def _assignment(self, permission_set: str | None, dry_run: bool) -> Step:
        """The permission set takes effect only once assigned to the integration user."""
        name = f"{self.settings.permission_set} -> integration user"
        user = self._user_id()
        rows: list[dict[str, Any]] = []
        if permission_set is not None:
            query = (
                format_soql(
                    "SELECT Id FROM PermissionSetAssignment "
                    "WHERE PermissionSetId = {} AND AssigneeId = {}",
                    permission_set,
                    user,
                )
                if user
                else format_soql(
                    "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = {}",
                    permission_set,
                )
            )
            rows = self._query(query)
        if rows:
            detail = "assigned" if user else f"assigned to {len(rows)} user(s)"
            return Step("permission", name, "none", detail)
        if user is None:
            return Step(
                "permission",
                name,
                "manual",
                f"assign the permission set {self.settings.permission_set} to the integration "
                "user in Setup > Users > Permission Set Assignments: a pre-issued token does "
                "not say which user it belongs to",
            )
        if not dry_run:
            self._create(
                "PermissionSetAssignment",
                {"PermissionSetId": permission_set, "AssigneeId": user},
                format_soql(
                    "SELECT Id FROM PermissionSetAssignment "
                    "WHERE PermissionSetId = {} AND AssigneeId = {}",
                    permission_set,
                    user,
                ),
            )
        return Step("permission", name, "create", f"assign to user {user}")

    def _grant(
        self,
        permission_set: str | None,
        field: str,
        row: Mapping[str, Any] | None,
        dry_run: bool,
        edit: bool = True,
    ) -> Step:
        """Grant read, and edit where servefirst writes the field (read only where it must not)."""
        steps = grant_step(field, row, edit)
        if steps.action == "none" or dry_run:
            return steps
        values = {"PermissionsRead": True, "PermissionsEdit": edit}
        if row is not None:
            self.client.call(
                "update",
                restful(f"sobjects/FieldPermissions/{row['Id']}", method="PATCH", payload=values),
            )
        else:
            self._create(
                "FieldPermissions",
                {
                    "ParentId": permission_set,
                    "SobjectType": field.split(".", maxsplit=1)[0],
                    "Field": field,
                }
                | values,
                format_soql(
                    "SELECT Id FROM FieldPermissions WHERE ParentId = {} AND Field = {}",
                    permission_set,
                    field,
                ),
            )
        return steps

    def _user_id(self) -> str | None:
        """Who servefirst runs as: from the OAuth identity URL, else the userinfo endpoint."""
        if self.client.user_id:
            return self.client.user_id
        try:
            info = self.client.call("userinfo", lambda sf: sf.oauth2("userinfo"))
        except SalesforceError:
            return None
        user = (info or {}).get("user_id") if isinstance(info, dict) else None
        return str(user) if user else None

    def _create(self, sobject: str, values: Mapping[str, Any], key: str) -> str:
        return create_record(self.client, sobject, values, key)

    def _validation_rule(self, playbook: Playbook, dry_run: bool) -> list[Step]:
        rule = validation_rule(self.mapping, playbook)
        rows = self._tooling_query(
            format_soql(
                "SELECT Id, ValidationName FROM ValidationRule "
                "WHERE EntityDefinitionId = {} AND ValidationName = {}",
                "Opportunity",
                rule.name,
            )
        )
        body = {"FullName": rule.full_name, "Metadata": rule.metadata}
        if not rows:
            if not dry_run:
                key = format_soql(
                    "SELECT Id FROM ValidationRule "
                    "WHERE EntityDefinitionId = {} AND ValidationName = {}",
                    "Opportunity",
                    rule.name,
                )
                create_metadata(self.client, "ValidationRule", body, key)
            return [Step("validation_rule", rule.full_name, "create", rule.summary)]
        rule_id = str(rows[0]["Id"])
        current = self.client.call(
            "tooling read", tooling("GET", f"sobjects/ValidationRule/{rule_id}")
        )
        metadata = (current or {}).get("Metadata") or {}
        diffs = [k for k, v in rule.metadata.items() if metadata.get(k) != v]
        if not diffs:
            return [Step("validation_rule", rule.full_name, "none", "up to date")]
        if not dry_run:
            self.client.call(
                "tooling update", tooling("PATCH", f"sobjects/ValidationRule/{rule_id}", body)
            )
        return [Step("validation_rule", rule.full_name, "update", f"differs in {', '.join(diffs)}")]
