-- A batch's photos are written ahead of the batch's own transaction, on a connection of
-- their own, so that the database takes the photos (about 200 MB for 10 000 applicants)
-- while the batch's holders, cards, events and jobs are written on the other.
--
-- A photo is the image printed on a card: its holder is the card's (cards.holder), so the
-- photo no longer names one itself; a photo written ahead carries the id of the batch that
-- wrote it (upload). photo_uploads lists the batches whose photos are being written: the
-- batch's transaction deletes its row as it commits; a batch that failed (marked so once
-- its transaction has let go of the photos' rows), or whose process died (an old row), has
-- its photos deleted with its row by the next sweep.

DROP INDEX holder_photos_holder;
ALTER TABLE holder_photos DROP COLUMN holder;
ALTER TABLE holder_photos ADD COLUMN upload text;

CREATE INDEX holder_photos_upload ON holder_photos (upload) WHERE upload IS NOT NULL;
-- Deleting a failed batch's photos checks that no card shows them.
CREATE INDEX cards_photo ON cards (photo);

CREATE TABLE photo_uploads (
    batch text PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    failed boolean NOT NULL DEFAULT false
);
