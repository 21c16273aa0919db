-- undo create tally marks: sqlite (applied by `bao migrate:rollback`)
DROP TABLE tally_marks;
