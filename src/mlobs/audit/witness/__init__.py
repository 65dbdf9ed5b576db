"""An independent witness of the audit log: it fetches each new signed checkpoint with a consistency
proof from the last one it saw, verifies both, cosigns (c2sp.org/tlog-cosignature) and keeps them.
Run it on another host or in another trust domain: `mlobs serve audit-witness`."""
