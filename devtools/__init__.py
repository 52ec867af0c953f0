"""Local stand-ins for AWS used by the demo, the tests and the benchmark: never deployed."""
