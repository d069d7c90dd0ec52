"""Safe outbound HTTP shared by the poller (feeds) and the workers (pages)."""
