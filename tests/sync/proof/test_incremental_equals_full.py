"""The proof: whatever reps, calendars, faults and crashes do, incremental equals a full scan.

The machine (``conftest.Proof``) runs on both sandboxes. ``make test`` runs a bounded,
derandomized number of examples (profile ``proof``); ``make soak`` many more (profile
``proof-soak``, ``SOAK_EXAMPLES`` per CRM), printing its figures as it goes and, on failure,
how to reproduce it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

SOAK = int(os.environ.get("SOAK_EXAMPLES", "0"))
settings.register_profile(
    "proof",
    max_examples=int(os.environ.get("PROOF_EXAMPLES", "10")),
    stateful_step_count=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "proof-soak",
    max_examples=max(SOAK, 1),
    stateful_step_count=15,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
PROFILE = settings.get_profile("proof-soak" if SOAK else "proof")


def test_incremental_run_equals_a_full_scan(proof_crm: Any, proof_machine: Any) -> None:
    """Every clean incremental run leaves the CRM exactly as a full scan would, on both CRMs."""
    figures = proof_machine.figures
    seed = os.environ.get("SOAK_SEED", "")
    if SOAK:
        print(f"proof {proof_crm.name}: soak of {SOAK} examples, seed {seed}", file=sys.stderr)
        logging.disable(logging.CRITICAL)  # retries and refusals are expected; figures tell
    try:
        run_state_machine_as_test(proof_machine, settings=PROFILE)
    except KeyboardInterrupt:
        print(f"proof {proof_crm.name}: soak stopped by hand", file=sys.stderr)
        raise
    except BaseException:
        if SOAK:
            print(
                f"proof {proof_crm.name} FAILED; reproduce with: make soak SOAK_SEED={seed} "
                f"SOAK_EXAMPLES={SOAK} (or the @reproduce_failure blob above)",
                file=sys.stderr,
            )
        raise
    finally:
        logging.disable(logging.NOTSET)
        print(figures.line(proof_crm.name), file=sys.stderr, flush=True)
    assert figures.checks >= figures.examples
