-- undo create tally marks: postgres (applied by `bao migrate:rollback`)
DROP TABLE tally_marks;
