"""The sync engine, state store, scheduler and CLI: the only part that wires the others."""
