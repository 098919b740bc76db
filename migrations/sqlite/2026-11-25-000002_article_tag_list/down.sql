ALTER TABLE articles DROP COLUMN tag_list;
