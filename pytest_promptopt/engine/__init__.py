"""Per-process services: the runtime (services, run row, suites), scheduler, recorder, loop."""
