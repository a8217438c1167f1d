"""What a run or a sweep writes for people to read: tables, plots, reports."""
