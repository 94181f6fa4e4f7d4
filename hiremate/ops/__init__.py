"""Operations: running and feeding HireMate rather than the domain itself.
`python -m hiremate` (cli.py), `make run` (launcher.py), the demo
organisation (demo.py), one-off migrations (migrate.py) and simulated
candidate attempts for tests, benchmarks and the demo (simulate.py)."""
