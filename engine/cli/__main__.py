"""`python -m engine.cli`: the same as the `vmswap` command."""

from engine.cli import main

raise SystemExit(main())
