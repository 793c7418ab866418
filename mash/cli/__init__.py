"""The `mash` command line: the face that starts the processes and runs the council's tools."""
