"""``python -m hiremate``: see hiremate/cli.py."""

from hiremate.cli import main

raise SystemExit(main())
