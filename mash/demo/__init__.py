"""Data shipped with the package: the demo contacts `mash dev` posts."""
