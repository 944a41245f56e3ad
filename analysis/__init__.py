"""The study's statistics (researchers' report). Grows with the researchers' issue; nothing here yet."""
