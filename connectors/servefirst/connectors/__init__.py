"""One subpackage per CRM: mapping, API client use, provisioning and a local sandbox."""
