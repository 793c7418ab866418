"""`python -m benchmarks`: how fast the service is on this machine."""

from benchmarks.command import bench

bench()
