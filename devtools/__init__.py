"""Local stand-ins for AWS used by the demo, the tests and the benchmark, and the checks and rollback that
`make deploy` and `make rollback` run: never deployed."""
