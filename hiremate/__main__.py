"""``python -m hiremate``: see hiremate/ops/cli.py."""

from hiremate.ops.cli import main

raise SystemExit(main())
