"""How fast the pure playbook evaluation runs, on one core, without any I/O.

Prints engagements evaluated per second for a realistic mix (every stage, open/won/lost, a share
of violations). The target is >= 20,000 per second per core.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement, Sponsor, Status, SuccessCriterion

STAGES = ["discover", "diagnose", "design", "deliver", "won", "lost"]


def sample(n: int, today: dt.date, seed: int = 7) -> list[Engagement]:
    """``n`` engagements spread over stages and dates, about a third violating some rule."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data, not crypto
    out = []
    for i in range(n):
        stage = STAGES[i % len(STAGES)]
        status = Status.WON if stage == "won" else Status.LOST if stage == "lost" else Status.OPEN
        po = today + dt.timedelta(days=rng.randint(-30, 120))
        od = po + dt.timedelta(days=rng.randint(-10, 90)) if rng.random() > 0.2 else None
        out.append(
            Engagement(
                id=f"E{i:07d}",
                crm="bench",
                name=f"Engagement {i}",
                owner_id="owner",
                stage=stage,
                status=status,
                po_date=po,
                operational_date=od,
                success_criteria=(SuccessCriterion(text="x"),) if rng.random() > 0.2 else (),
                sponsors=(Sponsor(contact_id="c", name="Sam"),) if rng.random() > 0.15 else (),
            )
        )
    return out


def measure(n: int = 50_000) -> dict[str, float]:
    """Evaluations per second over ``n`` engagements (best of three passes)."""
    playbook = load_playbook_file(builtin_playbook("prime"))
    today = dt.date(2026, 11, 26)
    engagements = sample(n, today)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for engagement in engagements:
            evaluate(engagement, playbook, today, slips=0)
        best = min(best, time.perf_counter() - start)
    return {"engagements": n, "seconds": best, "per_second": n / best}


if __name__ == "__main__":
    result = measure()
    print(
        f"evaluate: {result['engagements']:,} engagements in {result['seconds']:.2f} s "
        f"= {result['per_second']:,.0f} per second on one core"
    )
