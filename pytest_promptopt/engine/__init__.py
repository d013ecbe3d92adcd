"""Per-process services: the runtime, the case scheduler, the recorder and the event loop."""
