-- undo create_users: postgres (applied by `bao migrate:rollback`)
DROP TABLE users;
