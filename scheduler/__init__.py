"""The scheduler process (``shopbot scheduler``): timed jobs that call the commerce core.

``jobs`` holds the job functions, each callable directly with a ``now`` (tests
drive thirty days through them without waiting); ``app.build_scheduler``
wires them into APScheduler; ``locks`` keeps two scheduler processes from
running the same job at once on PostgreSQL; ``cli.main`` is the entry point.
See docs/scheduler.md.
"""
