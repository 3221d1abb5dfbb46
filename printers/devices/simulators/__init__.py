"""Simulated devices that speak the real protocols, for tests, benchmarks and demonstrations.

:mod:`.evolis` is an Evolis card printer on a loopback TCP port; :mod:`.chip_card`
a social security card's chip in software; :mod:`.psam` a PSAM holding the master
keys in memory; :mod:`.vicc` serves a simulated card to pcscd through the vpcd
virtual reader; :mod:`.outlet` puts them together into one outlet's printer and
chip reader.
"""
