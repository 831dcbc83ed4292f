"""`python -m optimizer` is the `officeplan` command."""

from .cli import main

raise SystemExit(main())
