"""The chip side of a social security card: APDUs, file layout, keys, PSAM, encoder, readers.

Pure protocol code (:mod:`.apdu`, :mod:`.status`, :mod:`.tlv`, :mod:`.files`,
:mod:`.crypto`) builds and parses bytes. :mod:`.psam` is the interface to the
module that holds the master keys, :mod:`.encoder` drives a card through a
connection and :mod:`.pcsc` reaches real readers through pyscard (optional).
The simulated card, PSAM and vpcd reader are in :mod:`printers.devices.simulators`.
"""
