"""Developer tools that look at the engine's own code (run with `python -m engine.tools.X`)."""
