"""Checking a stored log from outside: the parallel chain check and its worker processes, the Merkle
roots recomputed against signed heads, `mlobs audit verify` with the verifier's own key, and
inclusion proof bundles. Reads storage and keys; nothing below imports it."""
