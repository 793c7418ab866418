"""`python -m mash.bench`: the same as `mash bench`."""

from mash.bench.command import bench

bench()
