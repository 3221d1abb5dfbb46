"""Tools that are not the product: the queue benchmark, the load test, the simulated
production line and test-data generators. Only the CLI and the benchmarks import them.
"""
