"""One database diagnosed: a typed context derived once, and the inspectors that read it."""
