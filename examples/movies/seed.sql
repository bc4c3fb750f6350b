-- Seed data for the movies example (MariaDB/MySQL). Load it into an empty database:
--   mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS movies"
--   mariadb -h 127.0.0.1 -u root movies < examples/movies/seed.sql
-- or simply: make movies
DROP TABLE IF EXISTS movies;
DROP TABLE IF EXISTS directors;
CREATE TABLE directors (
  director_id INT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  nationality CHAR(2)
);
CREATE TABLE movies (
  movie_id INT PRIMARY KEY,
  title VARCHAR(100) NOT NULL,
  release_year INT,
  director_id INT,
  genre VARCHAR(20),
  budget_usd BIGINT,
  box_office_usd BIGINT
);
INSERT INTO directors VALUES
  (1, 'Ridley Scott', 'GB'),
  (2, 'James Cameron', 'CA'),
  (3, 'Michael Mann', 'US');
INSERT INTO movies VALUES
  (1, 'Alien', 1979, 1, 'scifi', 11000000, 106000000),
  (2, 'Aliens', 1986, 2, 'action', 18500000, 131000000),
  (3, 'Titanic', 1997, 2, 'drama', 200000000, 2264000000),
  (4, 'Blade Runner', 1982, 1, 'scifi', 28000000, 41000000),
  (5, 'Heat', 1995, 3, 'crime', 60000000, 187000000);
