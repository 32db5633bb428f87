"""Scale-out: Dramatiq workers run the syncs of many connections, one scheduler enqueues them.

The embedded mode (``servefirst run``) runs every sync in its own process; this package lets a
fleet of ``servefirst worker`` processes on several hosts share the work instead. Nothing here
changes what a run does: a worker calls the same service functions as the CLI, and those take
the connection's lease in the state database, so one connection never has two runs at once
whichever process, host or trigger started them.

    scheduler (servefirst run --backend dramatiq) --enqueue--> broker (Redis or RabbitMQ)
    broker --deliver--> worker threads --> service.sync_connection --> lease, engine, CRM
"""
