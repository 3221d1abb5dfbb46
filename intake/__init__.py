"""Intake: checks of what a person hands over, the same at the counter and in batches.

Names (:mod:`.fonts`, :mod:`.typesetting`: can the card font draw it, does it fit
the face), photos (:mod:`.photo`: format, limits, decoding and orientation;
:mod:`.jpegscan`: the JPEG structure scan) and the fast equivalent checks both
doors use (:mod:`.screening`). Imports only :mod:`sscard_core`.
"""
