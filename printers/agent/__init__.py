"""The outlet agent: claims jobs from the service over HTTP and drives the outlet's devices.

:mod:`.loop` (the claim-and-run loop), :mod:`.client` (the service's HTTP API),
:mod:`.station` (one printer and chip reader making one card), :mod:`.journal`
(what happened physically, for reconciliation), :mod:`.pinpad` (PIN services),
:mod:`.orders` (what a claimed job carries).
"""
