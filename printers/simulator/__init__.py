"""Simulated devices that speak the real protocols, for tests, benchmarks and demonstrations.

``evolis_sim`` is an Evolis card printer on a loopback TCP port.
"""
