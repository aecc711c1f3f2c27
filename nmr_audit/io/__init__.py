"""I/O at the edges: finding, reading and writing files. Nothing here decides a finding."""
