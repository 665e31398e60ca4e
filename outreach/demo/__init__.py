"""`outreach demo`: a small sample web on loopback and a sample client whose campaigns point at it."""
