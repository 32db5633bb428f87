"""``servefirst demo``: the whole product story on a local sandbox CRM, in under a minute."""

from servefirst.sync.demo.story import run_demo

__all__ = ["run_demo"]
