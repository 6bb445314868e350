"""Reliability suites: crash points, power loss, corruption, I/O faults, hostile input, load, shutdown.

Each module is named after the threat it covers (``../shared/reference/reliability-research.md``,
IDs A1-D3) and proves one or more of the ten promises in ``../shared/RELIABILITY.md``.
"""
