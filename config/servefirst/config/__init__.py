"""Settings, config loading and the bundled default playbook."""
