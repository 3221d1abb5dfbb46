"""The chip side of a social security card: APDUs, file layout, keys, PSAM, encoder, simulators.

Pure protocol code (:mod:`.apdu`, :mod:`.status`, :mod:`.tlv`, :mod:`.files`,
:mod:`.crypto`) builds and parses bytes. :mod:`.psam` holds the master keys,
:mod:`.encoder` drives a card through a connection, :mod:`.simcard` is a card in
software, :mod:`.pcsc` reaches real readers through pyscard (optional), and
:mod:`.vicc` serves a simulated card to pcscd through the vpcd virtual reader.
"""
