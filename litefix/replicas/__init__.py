"""What is on a replica: its listing, positions, gaps, restore points and pages."""
