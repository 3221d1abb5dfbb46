"""Documents: what is printed, on cards and on paper.

:mod:`.face` (the card's personal side), :mod:`.raster` and :mod:`.panels` (a face
as ribbon panels), :mod:`.receipt` (the handover receipt), :mod:`.manifest` (a
batch's manifest and completion report).
"""
