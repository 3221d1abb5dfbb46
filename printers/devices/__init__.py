"""Devices: each protocol as pure code that builds and parses bytes, the connections that carry
the bytes, and the simulators that speak the same protocols.

:mod:`.evolis` (card printers), :mod:`.chip` (the card's chip and the PSAM),
:mod:`.simulators` (every simulated device in one place).
"""
