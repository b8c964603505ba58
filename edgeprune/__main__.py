"""`python -m edgeprune` runs the command-line interface."""

from edgeprune.cli import main

raise SystemExit(main())
