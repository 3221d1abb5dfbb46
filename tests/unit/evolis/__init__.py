"""Tests of the Evolis printer driver and its simulator."""
