"""What the queue, the service, the devices and the outlet agent share.

The base exception tree (:mod:`.errors`), the card data contract and its JSON
codec (:mod:`.card_data`), the message enums exchanged over the queue and the
agent protocol (:mod:`.messages`), and the database helpers (:mod:`.queries`,
:mod:`.connect`). This package imports none of ``issuance``, ``cardqueue``,
``intake`` or ``printers``.
"""
