-- The cards under a temporary loss, indexed apart.
--
-- Every API process looks for temporary losses past their time once a minute
-- (lapse_temporary_losses). Without an index on the status, each look read the whole cards
-- table: 330-345 ms per process at a load test's size, both processes in the same second, and
-- proportionally more with every card issued. The partial index holds only the cards under a
-- temporary loss, a few among millions.
CREATE INDEX cards_lost_temporary ON cards (id) WHERE status = 'lost_temporary';
