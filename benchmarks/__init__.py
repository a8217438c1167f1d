"""Speed and scale measurements (`make bench`, never in CI): each module prints a table and writes results/."""
