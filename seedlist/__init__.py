"""Seedlist monitoring: seeds (addresses the service controls), which of them each campaign must
carry, and the audit of every message that arrives at one (docs/DESIGN.md, "Seedlist monitoring").

Below the jobs that run it (workers/), above the domain (suppression/): it knows nothing of HTTP
or RQ."""
