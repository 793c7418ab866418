"""The use cases the faces (intake, console, command line) call: each one a few steps of reading
what the service knows, deciding with the domain, and writing events."""
