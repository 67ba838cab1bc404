"""vmswap engine: deterministic simulation of memory overcommit under a CPU scheduler."""
