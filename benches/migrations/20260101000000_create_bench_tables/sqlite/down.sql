DROP TABLE fortunes;
DROP TABLE worlds;
