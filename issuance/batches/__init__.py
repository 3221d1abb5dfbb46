"""Expedited small-batch issuance (小批量加急制发卡): checking a batch file.

Nothing from a file is enqueued before every row has been checked.

* :mod:`issuance.batches.formats` reads CSV or JSON into a stream of raw rows;
* :mod:`issuance.batches.archive` reads photos from a zip treated as hostile;
* :mod:`issuance.batches.rows` checks one row and builds an :class:`Applicant`;
* :mod:`intake.screening` makes the name and photo checks fast
  (equivalent to the full ones; the counter uses the same);
* :mod:`issuance.batches.check` checks a whole file (:func:`check_batch`),
  handing on chunks of checked applicants as it goes;

:mod:`issuance.tools.line`, outside this package, simulates a production line
(the real agent over simulated printers, time compressed) to measure printer
utilisation.

The checks are pure: no database, no HTTP. The caller supplies the lookup of
applicants who already hold an active card as a plain callback; writing an
accepted batch is :mod:`issuance.services.batches`.
"""
