"""Application services: one function per counter service, each in ONE transaction.

Every function takes the :class:`issuance.store.Store` (and the
:class:`cardqueue.Queue` when it orders work) and the calling
:class:`issuance.store.Operator`, checks the operator's role and bank scope
with :func:`issuance.domain.roles.authorise`, applies the domain rules
(:mod:`issuance.domain.lifecycle`, :mod:`issuance.domain.counter_services`,
:mod:`issuance.domain.fees`), writes the records, the card events and an audit
row for every read or change of personal data, and enqueues device work on the
same connection, so that a card record and its job commit together or not at
all.

Modules: :mod:`common` (scope, transitions, audit), :mod:`ordering` (a new
card and its production job), :mod:`cards` (the card's own services),
:mod:`changes` (information change, bank change, home visit), :mod:`pins`,
:mod:`fees`, :mod:`dispatch` (the outlet agent's job reports and printers),
:mod:`jobs` (a supervisor cancels or redrives a dead-lettered job) and
:mod:`admin` (banks, outlets, operators).
"""
