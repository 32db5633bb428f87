"""The neutral serve-first playbook: model, checklist format and rules. Pure; no I/O, no CRM."""
